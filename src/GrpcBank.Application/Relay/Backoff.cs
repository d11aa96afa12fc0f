namespace GrpcBank.Application.Relay;

/// <summary>
/// How long the relay waits before it tries again after a failure: <see cref="First"/>, doubled after each failure in a
/// row, never more than <see cref="Longest"/>, and back to the first after a success.
/// </summary>
/// <remarks>
/// The cap bounds how long a consumer stays behind once the trouble is over, since nothing announces that a full disk
/// has space again or a database is back: with 30 s, a read side that failed for a minute could stay stale for another
/// half minute after its store recovered. At 5 s an outage costs a dozen logged retries a minute.
/// </remarks>
public struct Backoff()
{
    public static readonly TimeSpan First = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan Longest = TimeSpan.FromSeconds(5);

    private TimeSpan next = First;

    /// <summary>After a failure: returns the wait before trying again, and lengthens the one after it.</summary>
    public TimeSpan Failed()
    {
        var wait = next;
        next = TimeSpan.FromTicks(Math.Min(next.Ticks * 2, Longest.Ticks));
        return wait;
    }

    public void Succeeded() => next = First;
}
