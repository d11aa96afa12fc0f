using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Tests.EventStore;

/// <summary>When a relay consumer's completed checkpoint is due to be written to the store, and what stays to be written.</summary>
public sealed class CompletedCheckpointsSpecs
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private readonly Clock clock = new();

    [Fact]
    public void AConsumersFirstCompletion_IsDueAtOnce_LaterOnesOnlyOnceTheIntervalHasPassedSinceTheLastWrite()
    {
        var checkpoints = new CompletedCheckpoints(clock);

        Assert.True(checkpoints.Complete("read-side", 10));
        checkpoints.Written(checkpoints.Unwritten("read-side"));
        clock.Now += CompletedCheckpoints.WriteInterval / 2;
        Assert.False(checkpoints.Complete("read-side", 20));
        // Each consumer on its own: another one's first completion is due although this one's was just written.
        Assert.True(checkpoints.Complete("process", 5));

        clock.Now += CompletedCheckpoints.WriteInterval / 2;
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
