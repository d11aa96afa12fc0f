namespace GrpcBank.Application.Relay;

/// <summary>How far the relay has delivered, and how it is doing: observable by queries and operators.</summary>
public sealed class RelayProgress
{
    private long watermark;
    private long delivered;
    private long lastPassTicks;
    private volatile string? lastError;
    private volatile bool active;

    public long Watermark => Interlocked.Read(ref watermark);

    public long DeliveredEvents => Interlocked.Read(ref delivered);

    /// <summary>When the relay last completed a pass (a heartbeat); null before the first.</summary>
    public DateTimeOffset? LastPassAt => Interlocked.Read(ref lastPassTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>The error of the last failed pass, cleared by the next successful one.</summary>
    public string? LastError => lastError;

    /// <summary>True while this process holds the relay lease and delivers.</summary>
    public bool IsActive => active;

    public WakeUp Advanced { get; } = new();

    public void Advance(long newWatermark, int events)
    {
        Interlocked.Add(ref delivered, events);
        long seen;
        while ((seen = Interlocked.Read(ref watermark)) < newWatermark)
            if (Interlocked.CompareExchange(ref watermark, newWatermark, seen) == seen) break;
        Advanced.Signal();
    }

    public void Passed(DateTimeOffset at)
    {
        Interlocked.Exchange(ref lastPassTicks, at.UtcTicks);
        lastError = null;
    }

    public void Failed(Exception e) => lastError = $"{e.GetType().Name}: {e.Message}";

    public void SetActive(bool isActive) => active = isActive;
}
