using System.Collections.Concurrent;

namespace GrpcBank.Application.Relay;

/// <summary>How far the relay's consumers have got, and how they are doing: observable by queries and operators.</summary>
public sealed class RelayProgress
{
    private readonly ConcurrentDictionary<string, ConsumerProgress> consumers = new();
    private long watermark;
    private long head;
    private volatile bool active;

    /// <summary>
    /// The highest watermark any consumer has reached: each is a settled position (nothing committed can still appear
    /// below it), whichever consumer reached it.
    /// </summary>
    public long Watermark => Interlocked.Read(ref watermark);

    /// <summary>The newest committed position the relay knows of (refreshed by the relay; see <see cref="OutboxRelay"/>).</summary>
    public long HeadPosition => Interlocked.Read(ref head);

    /// <summary>
    /// When the relay last read the head position from the event store, as its clock's timestamp
    /// (<see cref="TimeProvider.GetTimestamp"/>, which only moves forward); null before the first read. A wall-clock
    /// time here left the head (and the lag reported from it) unread for as long as a time service set the clock back.
    /// </summary>
    public long? HeadReadAt { get; private set; }

    public void ObserveHead(long position, long at)
    {
        InterlockedMax(ref head, position);
        HeadReadAt = at;
    }

    /// <summary>True while this process holds the relay lease and delivers.</summary>
    public bool IsActive => active;

    /// <summary>Signalled whenever any consumer advances.</summary>
    public WakeUp Advanced { get; } = new();

    /// <summary>The progress of one consumer, by its name.</summary>
    public ConsumerProgress For(string consumer) => consumers.GetOrAdd(consumer, _ => new ConsumerProgress(this));

    public IReadOnlyDictionary<string, ConsumerProgress> Consumers => consumers;

    public void SetActive(bool isActive) => active = isActive;

    internal void Reached(long newWatermark)
    {
        InterlockedMax(ref watermark, newWatermark);
        InterlockedMax(ref head, newWatermark);
        Advanced.Signal();
    }

    internal static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while ((seen = Interlocked.Read(ref target)) < value)
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
    }
}

/// <summary>One consumer's own position (it is driven independently of the others) and health.</summary>
public sealed class ConsumerProgress(RelayProgress relay)
{
    private long watermark;
    private long handledElsewhere;
    private long delivered;
    private long highestDelivered;
    private long lastPassTicks;
    private volatile string? lastError;

    /// <summary>Every committed event ≤ this position has been handled by this consumer.</summary>
    public long Watermark => Interlocked.Read(ref watermark);

    /// <summary>
    /// How far this consumer is known to have got, for the lag an operator reads (<c>grpcbank.relay.lag</c>, the projection
    /// status): its <see cref="Watermark"/>, or how far it is known to have got otherwise (<see cref="HandledUpTo"/>).
    /// A consumer that fails its first delivery after a restart is behind by what it has not handled, not by the whole
    /// history.
    /// </summary>
    public long Handled => Math.Max(Watermark, Interlocked.Read(ref handledElsewhere));

    /// <summary>
    /// This consumer has every event up to <paramref name="position"/>, not through this relay's outbox deliveries: the
    /// checkpoint recorded for it (by any process's relay) when this relay took it up, or how far its catch-up on events
    /// trimmed while it was switched off has got. Only for the lag (<see cref="Handled"/>): the <see cref="Watermark"/>
    /// moves with this relay's deliveries.
    /// </summary>
    public void HandledUpTo(long position) => RelayProgress.InterlockedMax(ref handledElsewhere, position);

    public long DeliveredEvents => Interlocked.Read(ref delivered);

    /// <summary>The highest position handed to this consumer; above <see cref="Watermark"/> while it is not settled yet.</summary>
    public long HighestDelivered => Interlocked.Read(ref highestDelivered);

    /// <summary>When this consumer last completed a pass (a heartbeat); null before the first.</summary>
    public DateTimeOffset? LastPassAt => Interlocked.Read(ref lastPassTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>The error of the last failed pass, cleared by the next successful one.</summary>
    public string? LastError => lastError;

    public void Advance(long newWatermark, IReadOnlyList<EventStore.RecordedEvent> events)
    {
        Interlocked.Add(ref delivered, events.Count);
        foreach (var e in events) RelayProgress.InterlockedMax(ref highestDelivered, e.Position);
        RelayProgress.InterlockedMax(ref watermark, newWatermark);
        relay.Reached(newWatermark);
    }

    public void Passed(DateTimeOffset at)
    {
        Interlocked.Exchange(ref lastPassTicks, at.UtcTicks);
        lastError = null;
    }

    public void Failed(Exception e) => lastError = $"{e.GetType().Name}: {e.Message}";
}
