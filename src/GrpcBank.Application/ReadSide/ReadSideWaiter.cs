using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Read-your-writes: waits until the read side has applied a given position. A position the event store has not
/// reached is refused at once (no wait could succeed), and the number of waiting reads is capped. One pump serves every
/// waiter: it reads the applied position when the relay reports progress, or every <see cref="Limits.PollInterval"/> for
/// a read side advanced by another process, and releases each waiter whose position was reached, so a waiting read
/// costs no work of its own.
/// </summary>
public sealed class ReadSideWaiter(IReadStore readStore, IEventStore events, RelayProgress progress, ReadSideWaiter.Limits limits)
{
    /// <param name="MaxWaiting">Reads that may wait at once; more are refused.</param>
    /// <param name="PollInterval">How often the pump looks without a wake-up from this process's relay.</param>
    public sealed record Limits(int MaxWaiting, TimeSpan PollInterval)
    {
        public static readonly Limits Default = new(1_000, TimeSpan.FromMilliseconds(250));
    }

    public abstract record Outcome
    {
        /// <summary>The read side has applied <see cref="Position"/> (≥ the one asked for).</summary>
        public sealed record Reached(long Position) : Outcome;

        /// <summary>The position asked for is beyond the newest event in the store.</summary>
        public sealed record BeyondHead(long HeadPosition) : Outcome;

        /// <summary><see cref="Limit"/> reads are waiting already.</summary>
        public sealed record TooManyWaiting(int Limit) : Outcome;

        /// <summary>The caller's time ran out first.</summary>
        public sealed record TimedOut : Outcome;
    }

    private sealed record Waiter(long MinPosition)
    {
        public TaskCompletionSource<long> Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly Lock gate = new();
    private readonly List<Waiter> waiting = [];
    private bool pumping;

    public async Task<Outcome> WaitForAsync(long minPosition, CancellationToken ct)
    {
        var applied = await readStore.AppliedPositionAsync(CancellationToken.None);
        if (applied >= minPosition) return new Outcome.Reached(applied);
        var head = await events.HeadPositionAsync(CancellationToken.None);
        if (minPosition > head) return new Outcome.BeyondHead(head);

        var waiter = new Waiter(minPosition);
        lock (gate)
        {
            if (waiting.Count >= limits.MaxWaiting) return new Outcome.TooManyWaiting(limits.MaxWaiting);
            waiting.Add(waiter);
            if (!pumping)
            {
                pumping = true;
                _ = Task.Run(PumpAsync, CancellationToken.None);
            }
        }
        try
        {
            return new Outcome.Reached(await waiter.Reached.Task.WaitAsync(ct));
        }
        catch (OperationCanceledException)
        {
            return new Outcome.TimedOut();
        }
        finally
        {
            lock (gate) waiting.Remove(waiter);
        }
    }

    /// <summary>Runs while any waiter is unreleased.</summary>
    private async Task PumpAsync()
    {
        while (true)
        {
            // The wake-up generation is taken before the read, so an advance between the two is not missed.
            var seen = progress.Advanced.Generation;
            long? applied = null;
            try
            {
                applied = await readStore.AppliedPositionAsync(CancellationToken.None);
            }
            catch (Exception)
            {
                // An unreachable read store: the waiters run out of time (UNAVAILABLE); the pump looks again later.
            }
            lock (gate)
            {
                if (applied is { } reached)
                    foreach (var waiter in waiting.Where(w => w.MinPosition <= reached))
                        waiter.Reached.TrySetResult(reached);
                if (waiting.All(w => w.Reached.Task.IsCompleted))
                {
                    pumping = false;
                    return;
                }
            }
            await progress.Advanced.WaitAsync(limits.PollInterval, CancellationToken.None, seen);
        }
    }
}
