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
    /// A batch holds whole appends only: about <paramref name="maxCount"/> events, more when the last
    /// append would otherwise be cut, so a consumer never sees half of one.
    /// </summary>
    Task<OutboxBatch> ReadPendingAsync(int maxCount, CancellationToken ct);

    /// <summary>Removes the batch's rows: its events are handled.</summary>
    Task CompleteAsync(OutboxBatch batch, CancellationToken ct);

    /// <summary>Completes when new rows may be pending, or after <paramref name="timeout"/>.</summary>
    Task WaitForPendingAsync(TimeSpan timeout, CancellationToken ct);
}

/// <summary>Pending events, grouped by the append (the transaction) that wrote them, in delivery order.</summary>
public sealed record OutboxBatch(IReadOnlyList<IReadOnlyList<RecordedEvent>> Appends, long Watermark)
{
    public IReadOnlyList<RecordedEvent> Events { get; } = [.. Appends.SelectMany(a => a)];

    /// <summary>Groups rows read in delivery order by the transaction that wrote them (rows of one transaction are adjacent).</summary>
    public static OutboxBatch Of<TCommit>(IEnumerable<(RecordedEvent Event, TCommit Commit)> rows, long watermark)
    {
        var appends = new List<IReadOnlyList<RecordedEvent>>();
        List<RecordedEvent>? current = null;
        TCommit? commit = default;
        foreach (var row in rows)
        {
            if (current is null || !EqualityComparer<TCommit>.Default.Equals(row.Commit, commit))
            {
                appends.Add(current = []);
                commit = row.Commit;
            }
            current.Add(row.Event);
        }
        return new OutboxBatch(appends, watermark);
    }
}
