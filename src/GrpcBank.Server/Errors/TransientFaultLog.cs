namespace GrpcBank.Server.Errors;

/// <summary>
/// Which calls' transient faults are logged. In an outage every call fails alike, and a warning with its stack trace for
/// each grew the log with the request rate (a thousand a second at a thousand calls a second, for as long as a database
/// restarts). One is logged with its cause; the calls that fail so in the <see cref="Quiet"/> after it are only counted,
/// and the next warning, once that has passed, says how many they were. Server-wide, one for every call and batch.
/// </summary>
public sealed class TransientFaultLog(TimeProvider clock)
{
    public static readonly TimeSpan Quiet = TimeSpan.FromSeconds(10);

    private readonly Lock gate = new();
    /// <summary>
    /// When the last warning was let through, on the monotonic clock (null: none yet). Not the wall clock: one set back an
    /// hour kept every warning of an outage in that hour unlogged.
    /// </summary>
    private long? loggedAt;
    private int unlogged;

    /// <summary>Counts a call's transient fault: null when it goes unlogged; else the number that went unlogged before it.</summary>
    public int? Admit()
    {
        lock (gate)
        {
            if (loggedAt is { } at && clock.GetElapsedTime(at) < Quiet)
            {
                unlogged++;
                return null;
            }
            loggedAt = clock.GetTimestamp();
            var before = unlogged;
            unlogged = 0;
            return before;
        }
    }
}
