namespace GrpcBank.Application.Relay;

/// <summary>An in-process nudge: waiters wake when something may have changed, or after a timeout.</summary>
public sealed class WakeUp
{
    private TaskCompletionSource next = NewSource();

    public void Signal() => Interlocked.Exchange(ref next, NewSource()).TrySetResult();

    /// <summary>True when signalled, false on timeout.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        var signalled = Volatile.Read(ref next).Task;
        try
        {
            await signalled.WaitAsync(timeout, ct);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
