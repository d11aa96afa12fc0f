using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>A checkpoint per consumer: each reads the outbox from its own position, and the outbox keeps what the slowest still needs.</summary>
public abstract partial class EventStoreConformance
{
    [Fact]
    public async Task EachConsumer_ReadsFromItsOwnCheckpoint_AndOneThatHasNotReadHoldsNothingBackForAnother()
    {
        for (var version = 0L; version < 3; version++) await AppendAsync("account-1", version, Event());
        var fast = await Store.DrainOutboxAsync(through: 3, consumer: "fast");
        Assert.Equal(3, fast.Count);

        // The slow one still finds everything: the fast one's progress is not its own.
        var slow = await Store.PendingAsync(100, count: 3, consumer: "slow");
        Assert.Equal(fast.Select(e => e.EventId), slow.Events.Select(e => e.EventId));

        var last = ((AppendResult.Appended)await AppendAsync("account-1", 3, Event(), Event())).Position;
        // Each continues from its own checkpoint: the fast one gets only the new append, the slow one everything once.
        var fastAgain = await Store.DrainOutboxAsync(through: last, consumer: "fast");
        var slowAll = await Store.DrainOutboxAsync(through: last, consumer: "slow");
        Assert.Equal([4L, 5L], fastAgain.Select(e => e.StreamVersion));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], slowAll.Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task ACompletedCheckpoint_IsNeverRedeliveredWhileTheStoreLives_NorAfterACleanStop_AndACrashRedeliversOnlyWhatCameAfterTheFirst()
    {
        var first = ((AppendResult.Appended)await AppendAsync("account-1", 0, Event())).Position;
        await Store.DrainOutboxAsync(through: first, consumer: "c");
        var last = ((AppendResult.Appended)await AppendAsync("account-1", 1, Event(), Event())).Position;
        await Store.DrainOutboxAsync(through: last, consumer: "c");
        Assert.Empty((await Store.Outbox.ReadPendingAsync("c", 100, Ct)).Events);

        // Another instance while this one still runs sees only what this one has written: as after a crash. A consumer's
        // first completion is written at once; later ones within a second may not be, and are then delivered again.
        var afterCrash = await CreateStoreAsync();
        try
        {
            var redelivered = (await afterCrash.Outbox.ReadPendingAsync("c", 100, Ct)).Events.Select(e => e.StreamVersion).ToList();
            Assert.True(redelivered is [] or [2L, 3L], $"redelivered after a crash: [{string.Join(", ", redelivered)}]");
        }
        finally
        {
            await StopAsync(afterCrash);
        }

        // A clean stop writes what was completed: the next instance delivers nothing again.
        await StopAsync(Store);
        var restarted = await CreateStoreAsync();
        try
        {
            Assert.Empty((await restarted.Outbox.ReadPendingAsync("c", 100, Ct)).Events);
        }
        finally
        {
            await StopAsync(restarted);
        }
    }

    private static async Task StopAsync(IEventStore store)
    {
        if (store is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
        else if (store is IDisposable disposable) disposable.Dispose();
    }

    [Fact]
    public async Task Trimming_RemovesOnlyRowsEveryConsumerHasPassed()
    {
        for (var version = 0L; version < 5; version++) await AppendAsync("account-1", version, Event());
        var firstTwo = await Store.PendingAsync(2, count: 2, consumer: "slow");
        Assert.Equal(2, firstTwo.Events.Count);
        await Store.Outbox.CompleteAsync("slow", firstTwo, Ct);
        await Store.DrainOutboxAsync(through: 5, consumer: "fast");

        // A named consumer without a checkpoint yet (a new one) holds everything.
        await Store.Outbox.TrimAsync(["slow", "fast", "new"], Ct);
        Assert.Equal(5, (await Store.PendingAsync(100, count: 5, consumer: "newcomer")).Events.Count);

        // Below the slowest only; a consumer not named (switched off) holds nothing back.
        await Store.Outbox.TrimAsync(["slow", "fast"], Ct);
        Assert.Equal([3L, 4L, 5L], (await Store.PendingAsync(100, count: 3, consumer: "newcomer")).Events.Select(e => e.StreamVersion));
        Assert.Equal([3L, 4L, 5L], (await Store.DrainOutboxAsync(through: 5, consumer: "slow")).Select(e => e.StreamVersion));
        Assert.Empty((await Store.Outbox.ReadPendingAsync("fast", 100, Ct)).Events);

        await Store.Outbox.TrimAsync(["slow", "fast"], Ct);
        Assert.Empty((await Store.Outbox.ReadPendingAsync("newcomer", 100, Ct)).Events);
    }

    [Fact]
    public async Task TheRelay_WithOneSinkDown_KeepsFeedingTheOther_AndTheDownOneCatchesUpFromItsCheckpoint_NothingLostOrDoubled()
    {
        var healthy = new CountingSink("healthy");
        var flaky = new CountingSink("flaky") { Down = true };
        var progress = new RelayProgress();
        var relay = new OutboxRelay(Store, [healthy, flaky], new InProcessRelayLease(), progress, TimeProvider.System, NullLogger<OutboxRelay>.Instance);
        await relay.StartAsync(Ct);
        try
        {
            var last = 0L;
            for (var version = 0L; version < 20; version += 2)
                last = ((AppendResult.Appended)await AppendAsync("account-1", version, Event(), Event())).Position;
            await EventStoreProbes.Eventually(() => Task.FromResult(progress.For("healthy").Watermark >= last));
            Assert.Equal(20, healthy.Delivered.Count);
            Assert.Empty(flaky.Delivered);
            // (A pass that finds nothing visible yet clears the error; the next failing one sets it again.)
            await EventStoreProbes.Eventually(() => Task.FromResult(progress.For("flaky").LastError is not null));
            Assert.Equal(0, progress.For("flaky").Watermark);
            // The down sink's rows are kept for it, though the healthy one has passed them and trims ran.
            Assert.Equal(20, (await Store.PendingAsync(100, count: 20, consumer: "flaky")).Events.Count);

            flaky.Down = false;
            await EventStoreProbes.Eventually(() => Task.FromResult(progress.For("flaky").Watermark >= last));
            Assert.Null(progress.For("flaky").LastError);
            foreach (var sink in new[] { healthy, flaky })
                Assert.Equal(Enumerable.Range(1, 20).Select(v => (long)v), sink.Delivered.Select(e => e.StreamVersion));
            // Once both have passed every row, the trim empties the outbox.
            await EventStoreProbes.Eventually(async () => (await Store.Outbox.ReadPendingAsync("newcomer", 100, Ct)).Events.Count == 0);
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Records what it handled; refuses everything, as an unreachable store would, while down.</summary>
    private sealed class CountingSink(string name) : IEventSink
    {
        private readonly Lock gate = new();

        public volatile bool Down;

        public List<RecordedEvent> Delivered { get; } = [];

        public string Name => name;

        public Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
        {
            if (Down) throw new IOException("connection refused");
            lock (gate) Delivered.AddRange(events);
            return Task.CompletedTask;
        }
    }
}
