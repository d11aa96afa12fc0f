namespace GrpcBank.Application.Relay;

/// <summary>How far the relay has delivered, and how it is doing: observable by queries and operators.</summary>
public sealed class RelayProgress
{
    private long watermark;
    private long delivered;
    private long head;
    private long lastPassTicks;
    private volatile string? lastError;
    private volatile bool active;

    public long Watermark => Interlocked.Read(ref watermark);

    public long DeliveredEvents => Interlocked.Read(ref delivered);

    /// <summary>The newest committed position the relay knows of (refreshed by the relay; see <see cref="OutboxRelay"/>).</summary>
    public long HeadPosition => Interlocked.Read(ref head);

    /// <summary>When the relay last read the head position from the event store.</summary>
    public DateTimeOffset HeadReadAt { get; private set; }

    public void ObserveHead(long position, DateTimeOffset at)
    {
        InterlockedMax(ref head, position);
        HeadReadAt = at;
    }

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
        InterlockedMax(ref watermark, newWatermark);
        InterlockedMax(ref head, newWatermark);
        Advanced.Signal();
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while ((seen = Interlocked.Read(ref target)) < value)
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
    }

    public void Passed(DateTimeOffset at)
    {
        Interlocked.Exchange(ref lastPassTicks, at.UtcTicks);
        lastError = null;
    }

    public void Failed(Exception e) => lastError = $"{e.GetType().Name}: {e.Message}";

    public void SetActive(bool isActive) => active = isActive;
}
