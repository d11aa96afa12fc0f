namespace GrpcBank.Application.Relay;

/// <summary>How far the relay has delivered, observable by queries waiting for a position.</summary>
public sealed class RelayProgress
{
    private long watermark;
    private long delivered;

    public long Watermark => Interlocked.Read(ref watermark);

    public long DeliveredEvents => Interlocked.Read(ref delivered);

    public WakeUp Advanced { get; } = new();

    public void Advance(long newWatermark, int events)
    {
        Interlocked.Add(ref delivered, events);
        long seen;
        while ((seen = Interlocked.Read(ref watermark)) < newWatermark)
            if (Interlocked.CompareExchange(ref watermark, newWatermark, seen) == seen) break;
        Advanced.Signal();
    }
}
