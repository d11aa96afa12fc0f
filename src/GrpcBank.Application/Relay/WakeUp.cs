namespace GrpcBank.Application.Relay;

/// <summary>
/// An in-process nudge: waiters wake when something may have changed, or after a timeout. Each signal
/// bumps <see cref="Generation"/>, so a waiter that read the generation earlier never misses a signal
/// sent while it was busy.
/// </summary>
public sealed class WakeUp
{
    private TaskCompletionSource next = NewSource();
    private long generation;

    public long Generation => Interlocked.Read(ref generation);

    public void Signal()
    {
        Interlocked.Increment(ref generation);
        Interlocked.Exchange(ref next, NewSource()).TrySetResult();
    }

    /// <summary>True when signalled (after <paramref name="seenGeneration"/>, if given), false on timeout.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct, long? seenGeneration = null)
    {
        var signalled = Volatile.Read(ref next).Task;
        if (seenGeneration is { } seen && Generation != seen) return true;
        // A timeout is how most waits end (the relay's paced cycles, many a second): awaited without an exception.
        await signalled.WaitAsync(timeout, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        ct.ThrowIfCancellationRequested();
        return signalled.IsCompleted;
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
