namespace GrpcBank.Application.EventStore;

/// <summary>
/// The to-do list of the relay: a row per appended event, written in the append's transaction and
/// removed only after every sink has acknowledged the event (at-least-once).
/// </summary>
public interface IOutbox
{
    /// <summary>
    /// The oldest pending events in an order that keeps each stream's order, and a watermark: the
    /// highest position P such that, once this batch is handled, every committed event ≤ P has been.
    /// </summary>
    Task<OutboxBatch> ReadPendingAsync(int maxCount, CancellationToken ct);

    /// <summary>Removes the batch's rows: its events are handled.</summary>
    Task CompleteAsync(OutboxBatch batch, CancellationToken ct);

    /// <summary>Completes when new rows may be pending, or after <paramref name="timeout"/>.</summary>
    Task WaitForPendingAsync(TimeSpan timeout, CancellationToken ct);
}

public sealed record OutboxBatch(IReadOnlyList<RecordedEvent> Events, long Watermark);
