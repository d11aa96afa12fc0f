using System.Data.Common;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>
/// What every event store must do, run against each engine. Each test gets a fresh, empty store.
/// Reading the global order may lag behind commits on engines where commits interleave, so those reads poll.
/// </summary>
public abstract partial class EventStoreConformance : IAsyncLifetime
{

    protected IEventStore Store { get; private set; } = null!;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A new store over this test's database: empty at first; a later call opens another instance over the same data.</summary>
    protected abstract Task<IEventStore> CreateStoreAsync();

    public async ValueTask InitializeAsync() => Store = await CreateStoreAsync();

    public virtual async ValueTask DisposeAsync()
    {
        if (Store is IAsyncDisposable disposable) await disposable.DisposeAsync();
    }

    [Fact]
    public async Task AppendingToANewStream_WritesVersionsFromOne_AndReturnsTheLastPosition()
    {
        var result = await AppendAsync("account-1", 0, Event(), Event(), Event());

        var appended = Assert.IsType<AppendResult.Appended>(result);
        Assert.Equal(3, appended.Version);
        var stream = await Store.ReadStreamAsync("account-1", 1, 100, Ct);
        Assert.Equal([1L, 2L, 3L], stream.Select(e => e.StreamVersion));
        Assert.Equal(appended.Position, stream[^1].Position);
        Assert.True(stream[0].Position < stream[1].Position && stream[1].Position < stream[2].Position);
    }

    [Fact]
    public async Task AppendingAtTheCurrentVersion_ContinuesTheStream()
    {
        await AppendAsync("account-1", 0, Event(), Event());

        var result = await AppendAsync("account-1", 2, Event());

        Assert.Equal(3, Assert.IsType<AppendResult.Appended>(result).Version);
        Assert.Equal([1L, 2L, 3L], (await Store.ReadStreamAsync("account-1", 1, 100, Ct)).Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task AppendingAtAStaleVersion_IsAConflict_AndWritesNothing()
    {
        await AppendAsync("account-1", 0, Event(), Event());

        var result = await AppendAsync("account-1", 1, [Event()], Request("stale"));

        Assert.Equal(new AppendResult.WrongExpectedVersion("account-1", 1), result);
        Assert.Equal(2, (await Store.ReadStreamAsync("account-1", 1, 100, Ct)).Count);
        Assert.Null(await Store.FindRequestAsync("stale", Ct));
    }

    [Fact]
    public async Task AppendingToAnExistingStreamAsIfItWereNew_IsAConflict()
    {
        await AppendAsync("account-1", 0, Event());

        Assert.Equal(new AppendResult.WrongExpectedVersion("account-1", 0), await AppendAsync("account-1", 0, Event()));
    }

    [Fact]
    public async Task AppendingPastTheEndOfAStream_IsAConflict_NotAGap()
    {
        await AppendAsync("account-1", 0, Event());

        var result = await AppendAsync("account-1", 3, Event());

        Assert.Equal(new AppendResult.WrongExpectedVersion("account-1", 3), result);
        Assert.Equal([1L], (await Store.ReadStreamAsync("account-1", 1, 100, Ct)).Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task AppendingAtAVersionToAStreamThatDoesNotExist_IsAConflict()
    {
        Assert.Equal(new AppendResult.WrongExpectedVersion("account-1", 2), await AppendAsync("account-1", 2, Event()));
        Assert.Empty(await Store.ReadStreamAsync("account-1", 1, 100, Ct));
    }

    [Fact]
    public async Task ALoggedRequest_IsFoundByItsId_WithItsReplyAndThePositionOfTheLastEvent()
    {
        var appended = (AppendResult.Appended)await AppendAsync("account-1", 0, [Event(), Event()], Request("req-1"));

        var found = await Store.FindRequestAsync("req-1", Ct);

        Assert.Equal(new LoggedRequest("req-1", "fingerprint-req-1", """{"reply":"req-1"}""", appended.Position), found);
    }

    [Fact]
    public async Task AnUnknownRequestId_IsNotFound()
    {
        await AppendAsync("account-1", 0, [Event()], Request("req-1"));

        Assert.Null(await Store.FindRequestAsync("req-2", Ct));
    }

    [Fact]
    public async Task ARequestLoggedWithoutEvents_IsFound_ItsIdIsSpentForAppendsAndLogs_AndNothingReachesTheOutbox()
    {
        var first = (AppendResult.Appended)await AppendAsync("account-1", 0, [Event()], Request("req-0"));
        await Store.DrainOutboxAsync(first.Position);

        var logged = await Store.LogRequestAsync(Request("no-op-1"), first.Position, Ct);
        var again = await Store.LogRequestAsync(Request("no-op-1") with { Fingerprint = "another" }, 99, Ct);
        var takenByAnAppend = await Store.LogRequestAsync(Request("req-0"), first.Position, Ct);
        var append = await AppendAsync("account-2", 0, [Event()], Request("no-op-1"));

        Assert.Equal((true, false, false), (logged, again, takenByAnAppend));
        Assert.Equal(new LoggedRequest("no-op-1", "fingerprint-no-op-1", """{"reply":"no-op-1"}""", first.Position), await Store.FindRequestAsync("no-op-1", Ct));
        Assert.Equal("fingerprint-req-0", (await Store.FindRequestAsync("req-0", Ct))!.Fingerprint);
        Assert.Equal(new AppendResult.DuplicateRequest("no-op-1"), append);
        Assert.Empty(await Store.ReadStreamAsync("account-2", 1, 100, Ct));
        Assert.Empty((await Store.Outbox.ReadPendingAsync("test", 100, Ct)).Events);
    }

    [Fact]
    public async Task ReusingARequestId_IsADuplicateRequest_AndWritesNothing()
    {
        var first = (AppendResult.Appended)await AppendAsync("account-1", 0, [Event()], Request("req-1"));
        var pendingBefore = await Store.DrainOutboxAsync(first.Position);

        var result = await AppendAsync("account-2", 0, [Event()], Request("req-1") with { Fingerprint = "another" });

        Assert.Equal(new AppendResult.DuplicateRequest("req-1"), result);
        Assert.Empty(await Store.ReadStreamAsync("account-2", 1, 100, Ct));
        Assert.Equal("fingerprint-req-1", (await Store.FindRequestAsync("req-1", Ct))!.Fingerprint);
        Assert.Single(pendingBefore);
        Assert.Empty((await Store.Outbox.ReadPendingAsync("test", 100, Ct)).Events);
    }

    [Fact]
    public async Task ReadingForward_StartsAtFromVersion_OldestFirst_UpToMaxCount()
    {
        await AppendAsync("account-1", 0, Event(), Event(), Event(), Event(), Event());

        var read = await Store.ReadStreamAsync("account-1", 2, 3, Ct);

        Assert.Equal([2L, 3L, 4L], read.Select(e => e.StreamVersion));
        Assert.Equal([4L, 5L], (await Store.ReadStreamAsync("account-1", 4, 100, Ct)).Select(e => e.StreamVersion));
        Assert.Empty(await Store.ReadStreamAsync("account-1", 6, 100, Ct));
    }

    [Fact]
    public async Task ReadingBackward_StartsAtFromVersion_NewestFirst_UpToMaxCount()
    {
        await AppendAsync("account-1", 0, Event(), Event(), Event(), Event(), Event());

        var read = await Store.ReadStreamBackwardAsync("account-1", 4, 2, Ct);

        Assert.Equal([4L, 3L], read.Select(e => e.StreamVersion));
        Assert.Equal([5L, 4L, 3L, 2L, 1L], (await Store.ReadStreamBackwardAsync("account-1", long.MaxValue, 100, Ct)).Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task ReadingAStreamThatDoesNotExist_ReturnsNothing()
    {
        await AppendAsync("account-1", 0, Event());

        Assert.Empty(await Store.ReadStreamAsync("account-2", 1, 100, Ct));
        Assert.Empty(await Store.ReadStreamBackwardAsync("account-2", long.MaxValue, 100, Ct));
    }

    [Fact]
    public async Task ReadingAll_ReturnsEveryStreamsEventsAfterAPosition_InPositionOrder()
    {
        await AppendAsync("account-1", 0, Event(), Event());
        var middle = (AppendResult.Appended)await AppendAsync("account-2", 0, Event());
        await AppendAsync("account-1", 2, Event());
        var last = (AppendResult.Appended)await AppendAsync("account-2", 1, Event(), Event());

        var all = await Store.ReadAllUntilAsync(0, last.Position);
        var after = await Store.ReadAllUntilAsync(middle.Position, last.Position);

        Assert.Equal(6, all.Count);
        Assert.Equal(all.Select(e => e.Position).Order(), all.Select(e => e.Position));
        Assert.Equal(
            [("account-1", 1L), ("account-1", 2L), ("account-2", 1L), ("account-1", 3L), ("account-2", 2L), ("account-2", 3L)],
            all.Select(e => (e.StreamId, e.StreamVersion)));
        Assert.Equal(all.Where(e => e.Position > middle.Position), after);
        Assert.Equal(2, (await Store.ReadAllAsync(0, 2, Ct)).Count);
    }

    [Fact]
    public async Task ReadingAllWithoutMetadata_GivesTheSameEventsAndPayloads_AsReadingAll()
    {
        await AppendAsync("account-1", 0, Event(), Event());
        var last = (AppendResult.Appended)await AppendAsync("account-2", 0, Event(data: """{"n":"\u00e9\u4e2d"}"""));
        var all = await Store.ReadAllUntilAsync(0, last.Position);

        var withoutMetadata = await Store.ReadAllWithoutMetadataAsync(0, 100, Ct);

        Assert.Equal(all.Select(e => e with { MetadataJson = "" }), withoutMetadata.Select(e => e with { MetadataJson = "" }));
        Assert.Equal(2, (await Store.ReadAllWithoutMetadataAsync(all[0].Position, 2, Ct)).Count);
    }

    [Fact]
    public async Task ARecordedEvent_KeepsItsIdTypePayloadMetadataAndTime()
    {
        var written = new EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1", """{"amount":{"minor":1050,"currency":"EUR"}}""",
            """{"requestId":"r-1","correlationId":"c-1","principal":"teller"}""");

        await AppendAsync("account-1", 0, written);

        var read = Assert.Single(await Store.ReadStreamAsync("account-1", 1, 100, Ct));
        Assert.Equal(("account-1", 1L, written.EventId, written.EventType), (read.StreamId, read.StreamVersion, read.EventId, read.EventType));
        AssertSameJson(written.DataJson, read.DataJson);
        AssertSameJson(written.MetadataJson, read.MetadataJson);
        Assert.Equal(RecordedAt, read.RecordedAt);
    }

    [Fact]
    public async Task ALargePayload_RoundTrips()
    {
        var payload = new JsonObject { ["blob"] = new string('x', 1024 * 1024), ["n"] = 42 }.ToJsonString();

        await AppendAsync("account-1", 0, Event(data: payload));

        var read = Assert.Single(await Store.ReadStreamAsync("account-1", 1, 1, Ct));
        Assert.True(Encoding.UTF8.GetByteCount(read.DataJson) > 1024 * 1024);
        AssertSameJson(payload, read.DataJson);
    }

    [Fact]
    public async Task UnicodeInStreamIdsPayloadsAndRequestIds_RoundTrips()
    {
        const string stream = "account-😀-账户-حساب";
        var payload = new JsonObject { ["owner"] = "Zoë 😀 王小明 محمد עברית", ["note"] = "e\u0301 ﷽" }.ToJsonString();

        await AppendAsync(stream, 0, [Event(data: payload)], Request("请求-😀"));

        var read = Assert.Single(await Store.ReadStreamAsync(stream, 1, 1, Ct));
        Assert.Equal(stream, read.StreamId);
        Assert.Equal("Zoë 😀 王小明 محمد עברית", JsonNode.Parse(read.DataJson)!["owner"]!.GetValue<string>());
        AssertSameJson(payload, read.DataJson);
        Assert.NotNull(await Store.FindRequestAsync("请求-😀", Ct));
    }

    [Theory]
    [InlineData("\uFEFF")]
    [InlineData("\uFEFFabc")]
    [InlineData("\uFFFEabc")]
    public async Task AValueBeginningWithAByteOrderMarkCharacter_IsStoredAsSent_AndIsNotAnotherValueWithoutIt(string requestId)
    {
        var without = requestId[1..];
        if (without.Length > 0) await AppendAsync("account-2", 0, [Event()], Request(without));

        var appended = await AppendAsync(requestId, 0, [Event()], Request(requestId));

        Assert.IsType<AppendResult.Appended>(appended);
        Assert.Equal(requestId, (await Store.FindRequestAsync(requestId, Ct))?.RequestId);
        Assert.Equal("fingerprint-" + requestId, (await Store.FindRequestAsync(requestId, Ct))?.Fingerprint);
        Assert.Equal(requestId, Assert.Single(await Store.ReadStreamAsync(requestId, 1, 1, Ct)).StreamId);
    }

    [Fact]
    public async Task EventIds_AreUnique_AReusedIdIsRefused_AndWritesNothing()
    {
        var reused = Event();
        var first = (AppendResult.Appended)await AppendAsync("account-1", 0, reused);

        await Assert.ThrowsAnyAsync<DbException>(() => AppendAsync("account-2", 0, [Event(), reused], Request("req-1")));

        Assert.Empty(await Store.ReadStreamAsync("account-2", 1, 100, Ct));
        Assert.Null(await Store.FindRequestAsync("req-1", Ct));
        Assert.Equal([reused.EventId], (await Store.DrainOutboxAsync(first.Position)).Select(e => e.EventId));
    }

    [Fact]
    public async Task AppendedEvents_ArePending_UntilCompleted()
    {
        await AppendAsync("account-1", 0, Event(), Event());

        var pending = await Store.PendingAsync(100, count: 2);
        Assert.Equal([1L, 2L], pending.Events.Select(e => e.StreamVersion));
        await Store.Outbox.CompleteAsync("test", pending, Ct);

        Assert.Empty((await Store.Outbox.ReadPendingAsync("test", 100, Ct)).Events);
        Assert.Equal(2, (await Store.ReadStreamAsync("account-1", 1, 100, Ct)).Count);
    }

    [Fact]
    public async Task TheOutbox_KeepsEachStreamsOrder()
    {
        var last = 0L;
        for (var version = 0; version < 5; version++)
        {
            await AppendAsync("account-1", version, Event());
            await AppendAsync("account-2", version * 3, Event(), Event());
            last = ((AppendResult.Appended)await AppendAsync("account-2", version * 3 + 2, Event())).Position;
        }

        var delivered = await Store.DrainOutboxAsync(last);

        Assert.Equal(Enumerable.Range(1, 5).Select(v => (long)v), delivered.Where(e => e.StreamId == "account-1").Select(e => e.StreamVersion));
        Assert.Equal(Enumerable.Range(1, 15).Select(v => (long)v), delivered.Where(e => e.StreamId == "account-2").Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task TheOutboxWatermark_CoversAppendedEvents_OnceTheyAreHandled()
    {
        await AppendAsync("account-1", 0, Event());
        var last = (AppendResult.Appended)await AppendAsync("account-2", 0, Event(), Event());

        var watermark = 0L;
        await EventStoreProbes.Eventually(async () =>
        {
            var batch = await Store.Outbox.ReadPendingAsync("test", 100, Ct);
            await Store.Outbox.CompleteAsync("test", batch, Ct);
            watermark = Math.Max(watermark, batch.Watermark);
            return watermark >= last.Position;
        });

        Assert.True(watermark >= last.Position);
    }

    [Fact]
    public async Task AFullOutboxBatch_HasAWatermarkBelowEveryEventLeftOut()
    {
        var last = 0L;
        for (var i = 1; i <= 6; i++) last = ((AppendResult.Appended)await AppendAsync($"account-{i}", 0, Event())).Position;

        var batch = await Store.PendingAsync(2, count: 2);

        var rest = await Store.DrainOutboxAsync(last, batch);
        Assert.Equal(4, rest.Count);
        Assert.True(batch.Watermark < rest.Min(e => e.Position), $"watermark {batch.Watermark} covers an event left out");
    }

    [Fact]
    public async Task TheRelay_UnderConcurrentWriters_DeliversEveryEventOnce_InStreamOrder_AndEveryWatermarkIsTrue()
    {
        var sink = new RecordingSink();
        var relay = new OutboxRelay(Store, [sink], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance);
        using var writersDone = new CancellationTokenSource();

        var writers = Task.WhenAll(Enumerable.Range(1, 4).Select(w => Task.Run(async () =>
        {
            var last = 0L;
            for (var version = 0L; version < 40; version += 2)
                last = ((AppendResult.Appended)await AppendAsync($"account-{w}", version, Event(), Event())).Position;
            return last;
        }, Ct)));
        var pumping = Task.Run(async () =>
        {
            while (!writersDone.IsCancellationRequested) await relay.PumpOnceAsync(sink, Ct);
        }, Ct);
        var head = (await writers).Max();
        await writersDone.CancelAsync();
        await pumping;
        await EventStoreProbes.Eventually(async () => await relay.PumpOnceAsync(sink, Ct) && sink.Watermarks.Max(w => w.Watermark) >= head);

        var written = await Store.ReadAllUntilAsync(0, head);
        Assert.Equal(160, written.Count);
        Assert.Equal(written.Select(e => e.EventId).Order(), sink.Delivered.Select(e => e.EventId).Order());
        foreach (var stream in sink.Delivered.GroupBy(e => e.StreamId))
            Assert.Equal(Enumerable.Range(1, 40).Select(v => (long)v), stream.Select(e => e.StreamVersion));
        foreach (var (watermark, deliveredSoFar) in sink.Watermarks)
        {
            var covered = sink.Delivered.Take(deliveredSoFar).Select(e => e.Position).ToHashSet();
            Assert.All(written.Where(e => e.Position <= watermark), e => Assert.Contains(e.Position, covered));
        }
    }

    /// <summary>Remembers what it was handed, call by call, and how much had been handed when each watermark arrived.</summary>
    private sealed class RecordingSink : IEventSink
    {
        public List<RecordedEvent> Delivered { get; } = [];

        public List<IReadOnlyList<RecordedEvent>> Calls { get; } = [];

        public List<(long Watermark, int DeliveredSoFar)> Watermarks { get; } = [];

        public string Name => "recording";

        /// <summary>
        /// The calls so far that carried events (safe while the relay runs). On PostgreSQL a call may carry only a watermark:
        /// when any transaction in the cluster ran during the read that took the events, their position settles at the next.
        /// </summary>
        public IReadOnlyList<IReadOnlyList<RecordedEvent>> DeliveriesSoFar
        {
            get { lock (Calls) return [.. Calls.Where(c => c.Count > 0)]; }
        }

        public Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
        {
            lock (Calls)
            {
                Delivered.AddRange(events);
                Calls.Add(events);
                Watermarks.Add((watermark, Delivered.Count));
            }
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task TheRelay_AfterABusyBatch_WaitsOutItsCycle_SoTheAppendsMeanwhileComeInOneCall_AndAfterAQuietBatchOnlyTheQuietCycle()
    {
        var sink = new RecordingSink();
        var cycle = TimeSpan.FromSeconds(5);
        await using var relay = await PacedRelayAsync(sink, busyBatch: 2, busyCycle: cycle, quietCycle: OutboxRelay.DefaultQuietCycle);
        // One event is a quiet batch: the next append waits at most the short quiet cycle, well within a busy one.
        await AppendAsync("account-1", 0, Event());
        await EventStoreProbes.Eventually(() => Task.FromResult(sink.DeliveriesSoFar.Count == 1));
        var appended = System.Diagnostics.Stopwatch.StartNew();
        await AppendAsync("account-2", 0, Event(), Event());
        await EventStoreProbes.Eventually(() => Task.FromResult(sink.DeliveriesSoFar.Count == 2));
        Assert.True(appended.Elapsed < cycle / 2, $"after a quiet batch the next append waited {appended.Elapsed}");

        // Two events are a busy batch: appends made while the cycle runs wait for its end and come in one call.
        appended.Restart();
        for (var i = 3; i <= 5; i++) await AppendAsync($"account-{i}", 0, Event());
        Assert.SkipWhen(appended.Elapsed > cycle / 2, $"three appends took {appended.Elapsed}: the machine is too slow to show this");
        await EventStoreProbes.Eventually(() => Task.FromResult(sink.DeliveriesSoFar.Sum(c => c.Count) == 6));
        Assert.Equal([1, 2, 3], sink.DeliveriesSoFar.Select(c => c.Count));
        Assert.Equal(["account-3", "account-4", "account-5"], sink.DeliveriesSoFar[2].Select(e => e.StreamId));
    }

    [Fact]
    public async Task TheRelay_AfterAQuietBatch_WaitsOutTheQuietCycle_SoTheAppendsMeanwhileComeInOneCall()
    {
        var sink = new RecordingSink();
        var quiet = TimeSpan.FromSeconds(4);
        await using var relay = await PacedRelayAsync(sink, busyBatch: 100, busyCycle: OutboxRelay.DefaultBusyCycle, quietCycle: quiet);
        // The relay found nothing pending: the first append is delivered at once, well within a quiet cycle.
        var appended = System.Diagnostics.Stopwatch.StartNew();
        await AppendAsync("account-1", 0, Event());
        await EventStoreProbes.Eventually(() => Task.FromResult(sink.DeliveriesSoFar.Count == 1));
        Assert.True(appended.Elapsed < quiet / 2, $"the first append waited {appended.Elapsed}");

        // One event is a quiet batch: appends made while its cycle runs wait for its end and come in one call.
        appended.Restart();
        for (var i = 2; i <= 4; i++) await AppendAsync($"account-{i}", 0, Event());
        Assert.SkipWhen(appended.Elapsed > quiet / 2, $"three appends took {appended.Elapsed}: the machine is too slow to show this");
        await EventStoreProbes.Eventually(() => Task.FromResult(sink.DeliveriesSoFar.Sum(c => c.Count) == 4));
        Assert.Equal([1, 3], sink.DeliveriesSoFar.Select(c => c.Count));
    }

    /// <summary>A relay feeding <paramref name="sink"/> with these paces, started; disposing it stops it.</summary>
    private async Task<RunningRelay> PacedRelayAsync(IEventSink sink, int busyBatch, TimeSpan busyCycle, TimeSpan quietCycle)
    {
        var relay = new OutboxRelay(Store, [sink], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance)
        {
            BusyBatch = busyBatch,
            BusyCycle = busyCycle,
            QuietCycle = quietCycle,
        };
        await relay.StartAsync(Ct);
        return new RunningRelay(relay);
    }

    private sealed class RunningRelay(OutboxRelay relay) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await relay.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task TheRelay_DeadLettersAnEventItsSinkCannotHandle_AndDeliversTheRestOfTheBatch()
    {
        await AppendAsync("account-1", 0, Event(), Event(data: """{"poison":true}"""), Event());
        var sink = new PickySink();
        var relay = new OutboxRelay(Store, [sink], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance);

        // On PostgreSQL pending rows stay hidden while any older transaction in the cluster is open: pump until seen.
        await EventStoreProbes.Eventually(async () =>
        {
            await relay.PumpOnceAsync(sink, Ct);
            return sink.Delivered.Count == 2;
        });
        var deadLetters = await Store.DeadLetters.ListAsync(0, 10, Ct);
        var pending = await Store.Outbox.ReadPendingAsync(sink.Name, 10, Ct);

        Assert.Equal([1L, 3L], sink.Delivered.Select(e => e.StreamVersion));
        var deadLetter = Assert.Single(deadLetters.Items);
        Assert.Equal(("picky", 2L, 1L), (deadLetter.Consumer, deadLetter.Event.StreamVersion, deadLetters.TotalSize));
        Assert.Contains("poison", deadLetter.Error);
        Assert.Empty(pending.Events);

        await Store.DeadLetters.RemoveAsync("picky", deadLetter.Event.Position, Ct);
        Assert.Equal(0, (await Store.DeadLetters.ListAsync(0, 10, Ct)).TotalSize);
    }

    [Fact]
    public async Task ADeadLetterRedelivered_IsCountedOnce_InTheDeadLetterMetric()
    {
        await AppendAsync("account-1", 0, Event(data: """{"poison":true}"""));
        IReadOnlyList<RecordedEvent> batch = [];
        await EventStoreProbes.Eventually(async () => (batch = await Store.ReadAllAsync(0, 10, Ct)).Count == 1);
        // Its own consumer name: the counter is process-wide, and the other engine's conformance runs alongside.
        var consumer = $"picky-{Guid.NewGuid():N}";
        var counted = 0L;
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument == GrpcBank.Application.Telemetry.DeadLetters) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "sink" && tag.Value as string == consumer) Interlocked.Add(ref counted, value);
        });
        listener.Start();
        var sink = new PickySink();

        // Delivered, dead-lettered, and delivered again before the checkpoint moved (a crash, a lost lease): the relay is
        // at-least-once, so the same event fails again. It is the same dead letter (one listed), and the
        // GrpcBankDeadLetter alert and the dashboard must not count an event set aside twice.
        for (var delivery = 0; delivery < 2; delivery++)
            await PoisonEvents.HandleAsync(consumer, [batch], batch[0].Position, (events, watermark) => sink.HandleAsync(events, watermark, Ct), Store.DeadLetters, TimeProvider.System,
                NullLogger.Instance, Ct);

        Assert.Equal(1, (await Store.DeadLetters.ListAsync(0, 10, Ct)).TotalSize);
        Assert.Equal(1, Interlocked.Read(ref counted));
    }

    [Fact]
    public async Task TheRelay_DoesNotDeadLetterWhenTheSinkIsUnavailable_TheBatchStaysPending()
    {
        await AppendAsync("account-1", 0, Event(), Event());
        var sink = new UnavailableSink();
        var relay = new OutboxRelay(Store, [sink], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance);

        await EventStoreProbes.Eventually(async () =>
        {
            try
            {
                await relay.PumpOnceAsync(sink, Ct);
                return false;
            }
            catch (IOException)
            {
                return true;
            }
        });

        Assert.Equal(0, (await Store.DeadLetters.ListAsync(0, 10, Ct)).TotalSize);
        Assert.Equal(2, (await Store.DrainOutboxAsync(through: 2, consumer: sink.Name)).Count);
    }

    /// <summary>Refuses any event whose payload says it is poison, the way a projection refuses bad data.</summary>
    private sealed class PickySink : IEventSink
    {
        public List<RecordedEvent> Delivered { get; } = [];

        /// <summary>The calls it accepted.</summary>
        public List<IReadOnlyList<RecordedEvent>> Calls { get; } = [];

        public string Name => "picky";

        public Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
        {
            if (events.Any(e => e.DataJson.Contains("poison"))) throw new InvalidDataException("poison payload");
            Delivered.AddRange(events);
            Calls.Add(events);
            return Task.CompletedTask;
        }
    }

    private sealed class UnavailableSink : IEventSink
    {
        public string Name => "unavailable";

        public Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct) =>
            throw new IOException("connection refused");
    }

    [Fact]
    public async Task AnAppendWhileTheRelayIsBusy_IsNotMissed_TheNextWaitEndsAtOnce()
    {
        // With nothing new since the last look, a wait does wait (a store that never waits fails here)…
        using (var quiet = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            var waiting = await StartQuietWaitAsync(TimeSpan.FromSeconds(60), quiet.Token);
            await quiet.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        }

        // …but an append between the look and the wait ends the wait at once, far short of its own timeout.
        await Store.Outbox.ReadPendingAsync("test", 10, Ct);
        await AppendAsync("account-1", 0, Event());

        await Store.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(60), Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task WaitingForPending_EndsSoonAfterAnAppend()
    {
        var waiting = await StartQuietWaitAsync(TimeSpan.FromSeconds(30), Ct);

        await AppendAsync("account-1", 0, Event());

        await waiting.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task WaitingForPending_EndsAfterTheTimeout_WhenNothingHappens()
    {
        var timeout = TimeSpan.FromMilliseconds(500);
        for (var attempt = 1; ; attempt++)
        {
            await Store.Outbox.ReadPendingAsync("test", 10, Ct);
            var started = Stopwatch.GetTimestamp();
            await Store.Outbox.WaitForPendingAsync("test", timeout, Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
            // Not before the timeout: nothing was appended. (A wake-up with no news is allowed now and then, not always.)
            if (Stopwatch.GetElapsedTime(started) >= timeout * 0.9) return;
            Assert.True(attempt < 3, "the wait ended before its timeout three times running, with nothing appended");
        }
    }

    /// <summary>
    /// The relay's pattern, with nothing appended: look at the outbox, then wait; returns a wait still running after 200 ms.
    /// A store may wake a waiter with no news now and then (on PostgreSQL the listener's start-up nudge ends the first
    /// wait), so a few tries are allowed; a store that never waits fails.
    /// </summary>
    private async Task<Task> StartQuietWaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            await Store.Outbox.ReadPendingAsync("test", 10, Ct);
            var waiting = Store.Outbox.WaitForPendingAsync("test", timeout, ct);
            await Task.Delay(200, Ct);
            if (!waiting.IsCompleted) return waiting;
            Assert.True(attempt < 3, "the wait ended at once three times running, with nothing appended");
        }
    }

    protected Task<AppendResult> AppendAsync(string stream, long expected, params EventData[] events) =>
        AppendAsync(stream, expected, events, null);

    protected Task<AppendResult> AppendAsync(string stream, long expected, EventData[] events, RequestLogEntry? request) =>
        Store.AppendAsync(new AppendRequest(stream, expected, events, request, RecordedAt), Ct);

    protected static void AssertSameJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"JSON differs: {actual[..Math.Min(200, actual.Length)]}");
}
