using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Tests.EventStore;

/// <summary>When a relay consumer's completed checkpoint is due to be written to the store, and what stays to be written.</summary>
public sealed class CompletedCheckpointsSpecs
{
    /// <summary>A wall clock (which may be set back) and a monotonic one (which only moves forward), as a machine has.</summary>
    private sealed class Clock : TimeProvider
    {
        private long elapsed;

        public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch;

        public override DateTimeOffset GetUtcNow() => Now;

        public override long GetTimestamp() => elapsed;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public void Advance(TimeSpan by)
        {
            Now += by;
            elapsed += by.Ticks;
        }
    }

    private readonly Clock clock = new();

    [Fact]
    public void AConsumersFirstCompletion_IsDueAtOnce_LaterOnesOnlyOnceTheIntervalHasPassedSinceTheLastWrite()
    {
        var checkpoints = new CompletedCheckpoints(clock);

        Assert.True(checkpoints.Complete("read-side", 10));
        checkpoints.Written(checkpoints.Unwritten("read-side"));
        clock.Advance(CompletedCheckpoints.WriteInterval / 2);
        Assert.False(checkpoints.Complete("read-side", 20));
        // Each consumer on its own: another one's first completion is due although this one's was just written.
        Assert.True(checkpoints.Complete("process", 5));

        clock.Advance(CompletedCheckpoints.WriteInterval / 2);
        Assert.True(checkpoints.Complete("read-side", 30));
    }

    [Fact]
    public void TheIntervalIsTimeThatPassed_NotTheWallClock_WhichMayBeSetBackOrForward()
    {
        var checkpoints = new CompletedCheckpoints(clock);
        checkpoints.Complete("read-side", 10);
        checkpoints.Written(checkpoints.Unwritten("read-side"));

        // The time service steps the wall clock forward an hour: no time passed, so no write is due yet.
        clock.Now += TimeSpan.FromHours(1);
        Assert.False(checkpoints.Complete("read-side", 20));
        // Then back two: the interval passes all the same, and the checkpoint is written, not an hour later.
        clock.Now -= TimeSpan.FromHours(2);
        clock.Advance(CompletedCheckpoints.WriteInterval);
        Assert.True(checkpoints.Complete("read-side", 30));
    }

    [Fact]
    public void TheLatestCompletionIsKnownAtOnce_AndStaysUnwrittenUntilWritten_EvenIfAnEarlierOneWasWrittenMeanwhile()
    {
        var checkpoints = new CompletedCheckpoints(clock);
        Assert.Equal(0, checkpoints.Of("read-side"));

        checkpoints.Complete("read-side", 10);
        checkpoints.Complete("process", 7);
        var taken = checkpoints.Unwritten();
        Assert.Equal([("process", 7L), ("read-side", 10L)], taken.OrderBy(c => c.Consumer));
        // Completed while those were being written: the write of 10 does not cover 20.
        checkpoints.Complete("read-side", 20);
        checkpoints.Written(taken);

        Assert.Equal(20, checkpoints.Of("read-side"));
        Assert.Equal([("read-side", 20L)], checkpoints.Unwritten());
        Assert.Empty(checkpoints.Unwritten("process"));
    }
}
