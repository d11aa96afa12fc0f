using Microsoft.Extensions.Logging;

namespace GrpcBank.Application;

/// <summary>
/// How a background loop logs an outage (the store, the read side or the broker unreachable): every try fails alike
/// while it lasts, and a warning with its stack trace for each grew the log with time (four a second for a loop that
/// looks every 250 ms). The first failure of an outage is a warning with its cause, the rest are Debug, and the first
/// success after it says how many tries failed. Each loop words its own lines; one instance per loop, not shared
/// between threads.
/// </summary>
public sealed class OutageLog(ILogger logger)
{
    /// <summary>Tries failed in a row; 0 while the loop works.</summary>
    public int Failures { get; private set; }

    /// <param name="cause">Logged with its stack trace, or null when <paramref name="args"/> say all there is.</param>
    /// <param name="warning">The outage's warning, a message template for <paramref name="args"/>; later failures log it at Debug with their count.</param>
    public void Failed(Exception? cause, string warning, params object?[] args)
    {
        if (++Failures == 1) logger.LogWarning(cause, warning, args);
        else logger.LogDebug(cause, warning + " (failed tries: {Failures})", [.. args, Failures]);
    }

    /// <param name="recovered">What works again, a message template for <paramref name="args"/>; the count of failed tries follows it.</param>
    public void Worked(string recovered, params object?[] args)
    {
        if (Failures > 0) logger.LogInformation(recovered + ", after {Failures} failed tries", [.. args, Failures]);
        Failures = 0;
    }
}
