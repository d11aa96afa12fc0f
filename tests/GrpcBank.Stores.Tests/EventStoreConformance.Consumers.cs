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
    public async Task Trimming_PastAConsumerNotNamed_RecordsWhereTheEventsItMissesStart_KeepingTheLowest()
    {
        var positions = new List<long>();
        for (var version = 0L; version < 5; version++) positions.Add(((AppendResult.Appended)await AppendAsync("account-1", version, Event())).Position);
        var firstTwo = await Store.PendingAsync(2, count: 2, consumer: "off");
        await Store.Outbox.CompleteAsync("off", firstTwo, Ct);
        await Store.DrainOutboxAsync(through: positions[^1], consumer: "on");
        Assert.Null(await Store.Outbox.SkippedFromAsync("off", Ct));

        // "off" is not named (switched off): the rows of versions 3 to 5 go, and it is told where its missed events start.
        await Store.Outbox.TrimAsync(["on"], Ct);
        Assert.Equal(positions[2], await Store.Outbox.SkippedFromAsync("off", Ct));
        Assert.Null(await Store.Outbox.SkippedFromAsync("on", Ct));
        Assert.Null(await Store.Outbox.SkippedFromAsync("never-ran", Ct));

        // A later trim past it keeps the lowest; a trim that holds for it (named) records nothing.
        positions.Add(((AppendResult.Appended)await AppendAsync("account-1", 5, Event())).Position);
        await Store.DrainOutboxAsync(through: positions[^1], consumer: "on");
        await Store.Outbox.TrimAsync(["on"], Ct);
        Assert.Equal(positions[2], await Store.Outbox.SkippedFromAsync("off", Ct));

        await Store.Outbox.SetSkippedFromAsync("off", positions[4], Ct);
        Assert.Equal(positions[4], await Store.Outbox.SkippedFromAsync("off", Ct));
        await Store.Outbox.SetSkippedFromAsync("off", null, Ct);
        await Store.Outbox.TrimAsync(["on", "off"], Ct);
        Assert.Null(await Store.Outbox.SkippedFromAsync("off", Ct));
    }

    [Fact]
    public async Task TheRelay_GivesASinkSwitchedOffAndOnAgain_TheEventsTrimmedMeanwhile_FromTheEventStore_ThenGoesOnFromTheOutbox()
    {
        var always = new CountingSink("always");
        var sometimes = new CountingSink("sometimes");
        var last = 0L;
        async Task AppendFourAsync(long from)
        {
            for (var version = from; version < from + 4; version += 2)
                last = ((AppendResult.Appended)await AppendAsync("account-1", version, Event(), Event())).Position;
        }

        await RunRelayAsync([always, sometimes], async progress =>
        {
            await AppendFourAsync(0);
            await EventStoreProbes.Eventually(() => Task.FromResult(progress.For("sometimes").Watermark >= last));
        });
        // Switched off: the relay runs without it, and its trims take the rows of versions 5 to 8.
        await RunRelayAsync([always], async progress =>
        {
            await AppendFourAsync(4);
            // (The relay's own trims: a trim run beside them could find a completion of the last run's not written yet, and
            // record an earlier start, which only delivers some events twice.)
            await EventStoreProbes.Eventually(async () => await Store.Outbox.SkippedFromAsync("sometimes", Ct) is not null
                && (await Store.Outbox.ReadPendingAsync("sometimes", 100, Ct)).Events.Count == 0);
        });

        // On again: versions 5 to 8 come from the event store, then what is appended now from the outbox.
        await RunRelayAsync([always, sometimes], async progress =>
        {
            await EventStoreProbes.Eventually(async () => await Store.Outbox.SkippedFromAsync("sometimes", Ct) is null);
            await AppendFourAsync(8);
            await EventStoreProbes.Eventually(() => Task.FromResult(progress.For("sometimes").Watermark >= last));
        });
        Assert.Equal(Enumerable.Range(1, 12).Select(v => (long)v), sometimes.Delivered.Select(e => e.StreamVersion));
        Assert.Equal(Enumerable.Range(1, 12).Select(v => (long)v), always.Delivered.Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task ASinkCatchingUpOnWhatWasTrimmedWhileItWasOff_HeartbeatsAsItDelivers()
    {
        var always = new CountingSink("always");
        await SwitchedOffWhileTrimmedAsync(always, "sometimes");

        // On again, it is given the trimmed events from the event store a page (here one event) at a time, held at the
        // second page: a catch-up that takes minutes. It has delivered, so it must not look like a consumer that is stuck.
        var sometimes = new HeldSink("sometimes", deliveriesBeforeHold: 1);
        await WhileCatchingUpAsync([always, sometimes], sometimes, progress => Assert.NotNull(progress.For("sometimes").LastPassAt));
    }

    [Fact]
    public async Task ASinkCatchingUpOnWhatWasTrimmedWhileItWasOff_ShowsItsLagFallAsItDelivers()
    {
        // Its own name: the lag gauge is process-wide, and the other engine's conformance runs alongside.
        var name = $"sometimes-{Guid.NewGuid():N}";
        var always = new CountingSink("always");
        var trimmed = await SwitchedOffWhileTrimmedAsync(always, name);

        // Held at its third page (one event each) of four: two delivered, two to go. A catch-up that takes minutes must
        // show its lag fall as it delivers (GrpcBankConsumerLagHigh, bankctl), not stand still until it is done.
        var sometimes = new HeldSink(name, deliveriesBeforeHold: 2);
        await WhileCatchingUpAsync([always, sometimes], sometimes, _ => Assert.Equal(trimmed[^1] - trimmed[1], ReportedLag(name)));
    }

    /// <summary>
    /// <paramref name="sometimes"/> passes two events with <paramref name="always"/>, is switched off while four more are
    /// appended and trimmed past it, and is left with them to catch up on from the event store.
    /// </summary>
    /// <returns>The positions of the four it missed.</returns>
    private async Task<long[]> SwitchedOffWhileTrimmedAsync(IEventSink always, string sometimes)
    {
        var last = 0L;
        for (var version = 0L; version < 2; version++) last = ((AppendResult.Appended)await AppendAsync("account-1", version, Event())).Position;
        await RunRelayAsync([always, new CountingSink(sometimes)], progress =>
            EventStoreProbes.Eventually(() => Task.FromResult(progress.For(sometimes).Watermark >= last)));
        var missed = new long[4];
        await RunRelayAsync([always], async _ =>
        {
            for (var version = 2L; version < 6; version++) missed[version - 2] = ((AppendResult.Appended)await AppendAsync("account-1", version, Event())).Position;
            await EventStoreProbes.Eventually(async () => await Store.Outbox.SkippedFromAsync(sometimes, Ct) is not null
                && (await Store.Outbox.ReadPendingAsync(sometimes, 100, Ct)).Events.Count == 0);
        });
        return missed;
    }

    /// <summary>Runs a relay over <paramref name="sinks"/>, a page an event, and checks it once <paramref name="held"/> holds a delivery.</summary>
    private async Task WhileCatchingUpAsync(IEventSink[] sinks, HeldSink held, Action<RelayProgress> check)
    {
        var progress = new RelayProgress();
        var relay = new OutboxRelay(Store, sinks, new InProcessRelayLease(), progress, TimeProvider.System, NullLogger<OutboxRelay>.Instance)
        {
            BatchSize = 1,
        };
        await relay.StartAsync(Ct);
        try
        {
            await held.Holding.WaitAsync(TimeSpan.FromSeconds(15), Ct);
            check(progress);
        }
        finally
        {
            held.Release();
            await relay.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Handles its first deliveries, then holds the next one until released.</summary>
    private sealed class HeldSink(string name, int deliveriesBeforeHold) : IEventSink
    {
        private readonly TaskCompletionSource holding = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int deliveries;

        public string Name => name;

        /// <summary>Completes once a delivery is held.</summary>
        public Task Holding => holding.Task;

        public void Release() => released.TrySetResult();

        public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
        {
            if (events.Count == 0 || Interlocked.Increment(ref deliveries) <= deliveriesBeforeHold) return;
            holding.TrySetResult();
            await released.Task.WaitAsync(ct);
        }
    }

    [Fact]
    public async Task TrimsFailingThroughAnOutage_CostTheLogOneWarning_AndALineWhenTheyWorkAgain_NotAWarningASecond()
    {
        var store = new CountingStore(Store) { TrimsFail = true };
        var logs = new GrpcBank.Testing.CapturedLogs();
        var relay = new OutboxRelay(store, [new CountingSink("sink")], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System,
            new Microsoft.Extensions.Logging.Logger<OutboxRelay>(new Microsoft.Extensions.Logging.LoggerFactory([logs])));
        await relay.StartAsync(Ct);
        try
        {
            // The relay trims once a second: some four tries fail, then one works.
            await Task.Delay(TimeSpan.FromSeconds(4.5), Ct);
            store.TrimsFail = false;
            await EventStoreProbes.Eventually(() => Task.FromResult(logs.Lines.Any(l => l.Contains("Outbox trim works again"))));
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
        Assert.Single(logs.Lines, l => l.StartsWith("Warning") && l.Contains("Outbox trim failed"));
    }

    private async Task RunRelayAsync(IEventSink[] sinks, Func<RelayProgress, Task> whileRunning)
    {
        var progress = new RelayProgress();
        var relay = new OutboxRelay(Store, sinks, new InProcessRelayLease(), progress, TimeProvider.System, NullLogger<OutboxRelay>.Instance);
        await relay.StartAsync(Ct);
        try
        {
            await whileRunning(progress);
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
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

    [Fact]
    public async Task AConsumerFailingAfterARestart_IsReportedBehindByWhatItHasNotHandled_NotByTheWholeHistory()
    {
        // Its own name: the lag gauge is process-wide, and other relays of this process report theirs.
        var sink = new CountingSink($"restarted-{Guid.NewGuid():N}");
        var last = 0L;
        for (var version = 0L; version < 10; version++) last = ((AppendResult.Appended)await AppendAsync("account-1", version, Event())).Position;
        await RunRelayAsync([sink], progress => EventStoreProbes.Eventually(() => Task.FromResult(progress.For(sink.Name).Watermark >= last)));

        // Restarted while its store is unreachable, one event behind: its first delivery fails, so it has completed
        // nothing in this process, and an operator reading a lag of the whole history would look for a lost checkpoint.
        sink.Down = true;
        await AppendAsync("account-1", 10, Event());
        await RunRelayAsync([sink], async progress =>
        {
            await EventStoreProbes.Eventually(() => Task.FromResult(progress.For(sink.Name).LastError is not null));
            Assert.Equal(1, ReportedLag(sink.Name));
        });
    }

    [Fact]
    public async Task TheRelay_ReadsTheHeadAgainOnceItsIntervalHasPassed_EvenIfTheWallClockWasSetBackMeanwhile()
    {
        var clock = new SetBackClock();
        var progress = new RelayProgress();
        // A consumer that delivers nothing: its watermark, which raises the head too, stays where it is.
        var sink = new UnavailableSink();
        var relay = new OutboxRelay(Store, [sink], new InProcessRelayLease(), progress, clock, NullLogger<OutboxRelay>.Instance);
        await relay.PumpOnceAsync(sink, Ct);
        Assert.Equal(0, progress.HeadPosition);

        var last = ((AppendResult.Appended)await AppendAsync("account-1", 0, Event(), Event())).Position;
        // A time service steps the wall clock back an hour while a minute passes: the head (and so the lag the relay
        // reports) is read again all the same, not an hour later.
        clock.SetBack(TimeSpan.FromHours(1));
        clock.Pass(TimeSpan.FromMinutes(1));
        try
        {
            await relay.PumpOnceAsync(sink, Ct);
        }
        catch (IOException)
        {
            // The sink refused the events (on PostgreSQL they may not be visible to the outbox yet, and then nothing is handed over).
        }

        Assert.Equal(last, progress.HeadPosition);
    }

    /// <summary>A wall clock a test sets back, and a monotonic one that only moves forward, as a machine has both.</summary>
    private sealed class SetBackClock : TimeProvider
    {
        private DateTimeOffset wall = DateTimeOffset.UtcNow;
        private long passed;

        public override DateTimeOffset GetUtcNow() => wall;

        public override long GetTimestamp() => passed;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public void SetBack(TimeSpan by) => wall -= by;

        public void Pass(TimeSpan time)
        {
            wall += time;
            passed += time.Ticks;
        }
    }

    /// <summary>What <c>grpcbank.relay.lag</c> reports for <paramref name="sink"/> now, as a scrape would read it.</summary>
    private static long ReportedLag(string sink)
    {
        long? lag = null;
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GrpcBank.Application.Telemetry.Name && instrument.Name == "grpcbank.relay.lag") l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "sink" && tag.Value as string == sink) lag = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return lag ?? throw new Xunit.Sdk.XunitException($"no lag reported for {sink}");
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
