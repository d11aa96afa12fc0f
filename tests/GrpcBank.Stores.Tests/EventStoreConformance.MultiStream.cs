using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json.Nodes;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>Appends over several streams: one transaction, all or nothing, never deadlocked, never delivered in halves.</summary>
public abstract partial class EventStoreConformance
{
    /// <summary>Makes every later insert into the request log fail: the last write of an append with a request id.</summary>
    protected abstract Task RefuseRequestLogRowsAsync();

    [Fact]
    public async Task AMultiStreamAppend_WritesEachStreamAfterItsOwnVersion_WithOneRequestLogRowAtTheLastPosition()
    {
        await AppendAsync("account-b", 0, Event(), Event());

        var result = await Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-b", 2, [Event()]), new StreamAppend("account-a", 0, [Event(), Event()])], Request("transfer-1"), RecordedAt), Ct);

        var appended = Assert.IsType<AppendResult.Appended>(result);
        Assert.Equal([new StreamVersion("account-b", 3), new StreamVersion("account-a", 2)], appended.Versions);
        Assert.Equal((3L, 2L), (appended.VersionOf("account-b"), appended.VersionOf("account-a")));
        var a = await Store.ReadStreamAsync("account-a", 1, 10, Ct);
        var b = await Store.ReadStreamAsync("account-b", 1, 10, Ct);
        Assert.Equal([1L, 2L], a.Select(e => e.StreamVersion));
        Assert.Equal([1L, 2L, 3L], b.Select(e => e.StreamVersion));
        Assert.Equal(appended.Position, a.Concat(b).Max(e => e.Position));
        Assert.Equal(appended.Position, (await Store.FindRequestAsync("transfer-1", Ct))!.Position);
        // Written in ordinal order of stream id, whatever order the request listed them in.
        Assert.True(a[^1].Position < b[^1].Position, "account-a is written before account-b");
        Assert.Equal(5, (await Store.DrainOutboxAsync(appended.Position)).Count);
    }

    [Fact]
    public async Task AGuardFailingOnTheSecondStream_FailsTheWholeAppend_NamingThatStream_AndWritesNothing()
    {
        await AppendAndDeliverAsync("account-b", Event());

        var result = await Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Event()]), new StreamAppend("account-b", 0, [Event()])], Request("transfer-1"), RecordedAt), Ct);

        Assert.Equal(new AppendResult.WrongExpectedVersion("account-b", 0), result);
        Assert.Empty(await Store.ReadStreamAsync("account-a", 1, 10, Ct));
        Assert.Single(await Store.ReadStreamAsync("account-b", 1, 10, Ct));
        Assert.Null(await Store.FindRequestAsync("transfer-1", Ct));
        Assert.Empty((await Store.Outbox.ReadPendingAsync("test", 10, Ct)).Events);
    }

    [Fact]
    public async Task AnAppendFailingAtItsLastStatement_RollsBackEveryStream_AndWritesNothing()
    {
        await AppendAndDeliverAsync("account-c", Event());
        await RefuseRequestLogRowsAsync();

        await Assert.ThrowsAnyAsync<DbException>(() => Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Event(), Event()]), new StreamAppend("account-b", 0, [Event()])], Request("transfer-1"), RecordedAt), Ct));

        Assert.Empty(await Store.ReadStreamAsync("account-a", 1, 10, Ct));
        Assert.Empty(await Store.ReadStreamAsync("account-b", 1, 10, Ct));
        Assert.Null(await Store.FindRequestAsync("transfer-1", Ct));
        // Nothing pending either, and what failed holds nothing up: the next append is delivered.
        var next = (AppendResult.Appended)await AppendAsync("account-a", 0, Event());
        Assert.Equal(["account-a"], (await Store.DrainOutboxAsync(next.Position)).Select(e => e.StreamId));
    }

    [Fact]
    public async Task AnEventRefusedInTheSecondStream_RollsBackTheFirst()
    {
        var reused = Event();
        await AppendAndDeliverAsync("account-c", reused);

        await Assert.ThrowsAnyAsync<DbException>(() => Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Event()]), new StreamAppend("account-b", 0, [Event(), reused])], Request("transfer-1"), RecordedAt), Ct));

        Assert.Empty(await Store.ReadStreamAsync("account-a", 1, 10, Ct));
        Assert.Empty(await Store.ReadStreamAsync("account-b", 1, 10, Ct));
        Assert.Null(await Store.FindRequestAsync("transfer-1", Ct));
        Assert.Empty((await Store.Outbox.ReadPendingAsync("test", 10, Ct)).Events);
    }

    [Fact]
    public async Task AnAppendListingAStreamTwice_OrAStreamWithoutEvents_IsRefusedBeforeAnythingIsWritten()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Event()]), new StreamAppend("account-a", 1, [Event()])], null, RecordedAt), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Event()]), new StreamAppend("account-b", 0, [])], null, RecordedAt), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.AppendAsync(new AppendRequest([], null, RecordedAt), Ct));

        Assert.Empty(await Store.ReadStreamAsync("account-a", 1, 10, Ct));
    }

    [Fact]
    public async Task FiftyTransfersAToBAndBToAInParallel_NeverDeadlock_EverySuccessHasItsOwnVersions_AndTheTotalHolds()
    {
        await AppendAsync("account-a", 0, Transfer(0, 1_000));
        await AppendAsync("account-b", 0, Transfer(0, 1_000));
        var succeeded = new ConcurrentBag<(int Transfer, AppendResult.Appended Result)>();

        await Task.WhenAll(Enumerable.Range(1, 50).Select(i => Task.Run(async () =>
        {
            var (from, to) = i % 2 == 0 ? ("account-a", "account-b") : ("account-b", "account-a");
            for (var attempt = 1; ; attempt++)
            {
                Assert.True(attempt <= 500, $"transfer {i} still conflicting after 500 attempts");
                var result = await Store.AppendAsync(new AppendRequest(
                    [
                        new StreamAppend(from, await HeadVersionAsync(from), [Transfer(i, -10)]),
                        new StreamAppend(to, await HeadVersionAsync(to), [Transfer(i, 10)]),
                    ], Request($"transfer-{i}"), RecordedAt), Ct);
                if (result is AppendResult.Appended appended)
                {
                    succeeded.Add((i, appended));
                    return;
                }
                Assert.IsType<AppendResult.WrongExpectedVersion>(result);
            }
        }, Ct)));

        var a = await Store.ReadStreamAsync("account-a", 1, 1000, Ct);
        var b = await Store.ReadStreamAsync("account-b", 1, 1000, Ct);
        Assert.Equal(50, succeeded.Count);
        Assert.Equal(Enumerable.Range(1, 51).Select(v => (long)v), a.Select(e => e.StreamVersion));
        Assert.Equal(Enumerable.Range(1, 51).Select(v => (long)v), b.Select(e => e.StreamVersion));
        foreach (var (transfer, result) in succeeded)
        {
            // The versions it was told are the ones holding its events, and its position is the later of the two.
            var atA = a[(int)result.VersionOf("account-a") - 1];
            var atB = b[(int)result.VersionOf("account-b") - 1];
            Assert.Equal((transfer, transfer), (TransferOf(atA), TransferOf(atB)));
            Assert.Equal(result.Position, Math.Max(atA.Position, atB.Position));
            Assert.Equal(result.Position, (await Store.FindRequestAsync($"transfer-{transfer}", Ct))!.Position);
        }
        Assert.Equal(2_000, a.Concat(b).Sum(DeltaOf));
    }

    [Fact]
    public async Task TheEventsOfOneAppend_AreAdjacentInTheOutbox_InWriteOrder_AndABatchNeverCutsThem()
    {
        var last = 0L;
        for (var i = 1; i <= 4; i++)
        {
            last = ((AppendResult.Appended)await Store.AppendAsync(new AppendRequest(
                [
                    new StreamAppend($"account-{i % 2}", (i - 1) / 2 * 2, [Transfer(i, -5), Transfer(i, -5)]),
                    new StreamAppend($"account-x{i}", 0, [Transfer(i, 10)]),
                ], null, RecordedAt), Ct)).Position;
        }

        var batches = new List<OutboxBatch>();
        var watermark = 0L;
        await EventStoreProbes.Eventually(async () =>
        {
            var batch = await Store.Outbox.ReadPendingAsync("test", 1, Ct);
            if (batch.Events.Count > 0) batches.Add(batch);
            await Store.Outbox.CompleteAsync("test", batch, Ct);
            watermark = Math.Max(watermark, batch.Watermark);
            return batch.Events.Count == 0 && watermark >= last;
        });

        // Asked for one event at a time, each batch still holds a whole append of three, as one group, in write order.
        Assert.Equal(4, batches.Count);
        Assert.All(batches, batch =>
        {
            var append = Assert.Single(batch.Appends);
            Assert.Equal(3, append.Count);
            Assert.Single(append.Select(TransferOf).Distinct());
            Assert.Equal(append.Select(e => e.Position).Order(), append.Select(e => e.Position));
            Assert.Equal(append.Select(e => e.StreamId).Order(StringComparer.Ordinal), append.Select(e => e.StreamId));
        });
    }

    [Fact]
    public async Task TheRelay_HandsEachAppendToASinkInOneCall_EvenWhenItStraddlesTheBatchSize()
    {
        // 499 events, then an append of six across three streams: a batch of 500 would cut it after its first event.
        await AppendAsync("account-bulk", 0, [.. Enumerable.Range(0, 499).Select(_ => Event())], null);
        var last = ((AppendResult.Appended)await Store.AppendAsync(new AppendRequest(
            [.. new[] { "account-a", "account-b", "account-c" }.Select(s => new StreamAppend(s, 0, [Transfer(1, 1), Transfer(1, 1)]))],
            null, RecordedAt), Ct)).Position;
        var sink = new RecordingSink();
        var relay = new OutboxRelay(Store, [sink], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance);

        await EventStoreProbes.Eventually(async () => await relay.PumpOnceAsync(sink, Ct) && sink.Watermarks.Any(w => w.Watermark >= last));

        Assert.Equal(505, sink.Delivered.Count);
        Assert.Single(sink.Calls, call => call.Any(e => e.StreamId == "account-a"));
        Assert.Equal(6, sink.Calls.Single(call => call.Any(e => e.StreamId == "account-a")).Count(e => e.StreamId != "account-bulk"));
    }

    [Fact]
    public async Task TheRelay_WithAPoisonEventInABatch_StillHandsEveryOtherAppendToTheSinkWhole()
    {
        await Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Transfer(1, -1)]), new StreamAppend("account-b", 0, [Transfer(1, 1)])], null, RecordedAt), Ct);
        await Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-c", 0, [Event(data: """{"poison":true}""")]), new StreamAppend("account-d", 0, [Transfer(2, 1)])], null, RecordedAt), Ct);
        await Store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 1, [Transfer(3, -1)]), new StreamAppend("account-b", 1, [Transfer(3, 1)])], null, RecordedAt), Ct);
        var sink = new PickySink();
        var relay = new OutboxRelay(Store, [sink], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance);

        await EventStoreProbes.Eventually(async () =>
        {
            await relay.PumpOnceAsync(sink, Ct);
            return sink.Delivered.Count == 5 && (await Store.Outbox.ReadPendingAsync(sink.Name, 10, Ct)).Events.Count == 0;
        });

        Assert.Equal("account-c", Assert.Single((await Store.DeadLetters.ListAsync(0, 10, Ct)).Items).Event.StreamId);
        var calls = sink.Calls.Where(c => c.Count > 0).ToList();
        Assert.Contains(calls, c => c.Select(e => e.StreamId).SequenceEqual(["account-a", "account-b"]) && c.All(e => TransferOf(e) == 1));
        Assert.Contains(calls, c => c.Select(e => e.StreamId).SequenceEqual(["account-a", "account-b"]) && c.All(e => TransferOf(e) == 3));
        Assert.Contains(calls, c => c.Select(e => e.StreamId).SequenceEqual(["account-d"]));
    }

    /// <summary>Starts <paramref name="stream"/> with one event and hands it to the test consumer: the outbox is then empty.</summary>
    private async Task AppendAndDeliverAsync(string stream, EventData first)
    {
        var appended = (AppendResult.Appended)await AppendAsync(stream, 0, first);
        await Store.DrainOutboxAsync(appended.Position);
    }

    private async Task<long> HeadVersionAsync(string stream) =>
        (await Store.ReadStreamBackwardAsync(stream, long.MaxValue, 1, Ct)) is [var head] ? head.StreamVersion : 0;

    private static EventData Transfer(int transfer, long delta) => Event(data: $$"""{"transfer":{{transfer}},"delta":{{delta}}}""");

    private static int TransferOf(RecordedEvent e) => JsonNode.Parse(e.DataJson)!["transfer"]!.GetValue<int>();

    private static long DeltaOf(RecordedEvent e) => JsonNode.Parse(e.DataJson)!["delta"]!.GetValue<long>();
}
