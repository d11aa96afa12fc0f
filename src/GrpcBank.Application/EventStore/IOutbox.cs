namespace GrpcBank.Application.EventStore;

/// <summary>
/// The to-do list of the relay: a row per appended event, written in the append's transaction. Each consumer keeps its
/// own checkpoint in it (the last row it has handled, at-least-once), so one that is down or slow holds no other back;
/// a row is removed only once every consumer has passed it.
/// </summary>
public interface IOutbox
{
    /// <summary>
    /// The oldest events after <paramref name="consumer"/>'s checkpoint, in an order that keeps each stream's order,
    /// and a watermark: the highest position P such that, once this batch is handled, every committed event ≤ P has
    /// been handled by this consumer. A batch holds whole appends only: about <paramref name="maxCount"/> events, more
    /// when the last append would otherwise be cut, so a consumer never sees half of one. A consumer without a
    /// checkpoint starts at the oldest row still kept.
    /// </summary>
    Task<OutboxBatch> ReadPendingAsync(string consumer, int maxCount, CancellationToken ct);

    /// <summary>
    /// The position of the last event <paramref name="consumer"/> has completed, as recorded by whichever process's relay
    /// delivered it (its checkpoint, written at most about a second behind; or later, completed in this process); 0 if
    /// none. For a status on a server whose own relay does not run.
    /// </summary>
    Task<long> CheckpointAsync(string consumer, CancellationToken ct);

    /// <summary>Moves <paramref name="consumer"/>'s checkpoint past the batch: its events are handled. Never moves it back.</summary>
    Task CompleteAsync(string consumer, OutboxBatch batch, CancellationToken ct);

    /// <summary>
    /// Removes the rows every one of <paramref name="consumers"/> has passed (none while one of them has no checkpoint
    /// yet). Checkpoints of consumers not named, such as one switched off, hold nothing back: for each such consumer whose
    /// checkpoint a removed row lies after, the store records where its missed events start (<see cref="SkippedFromAsync"/>),
    /// in the same transaction as the removal.
    /// </summary>
    Task TrimAsync(IReadOnlyCollection<string> consumers, CancellationToken ct);

    /// <summary>
    /// The lowest position of the events whose rows were trimmed past <paramref name="consumer"/>'s checkpoint while it
    /// was not among the consumers trimmed for (switched off), which it therefore never gets from the outbox; null when
    /// it has missed nothing. Every such event was committed before the trim that removed its row.
    /// </summary>
    Task<long?> SkippedFromAsync(string consumer, CancellationToken ct);

    /// <summary>
    /// Records that <paramref name="consumer"/> has been given its skipped events (<see cref="SkippedFromAsync"/>) below
    /// <paramref name="from"/>, or all of them (null).
    /// </summary>
    Task SetSkippedFromAsync(string consumer, long? from, CancellationToken ct);

    /// <summary>Completes when rows may be pending after <paramref name="consumer"/>'s last read, or after <paramref name="timeout"/>.</summary>
    Task WaitForPendingAsync(string consumer, TimeSpan timeout, CancellationToken ct);

    /// <summary>
    /// Completes when rows may have been appended since <paramref name="read"/> was read (by any consumer), or after
    /// <paramref name="timeout"/>: for a consumer that took a batch another one read. A store that does not say when a
    /// batch was read (<see cref="OutboxBatch.WakeUpGeneration"/> 0) waits as after <paramref name="consumer"/>'s own last
    /// read, which is no later, so at worst it looks once more than needed.
    /// </summary>
    Task WaitForPendingAsync(string consumer, OutboxBatch read, TimeSpan timeout, CancellationToken ct) =>
        WaitForPendingAsync(consumer, timeout, ct);
}

/// <summary>Pending events, grouped by the append (the transaction) that wrote them, in delivery order.</summary>
public sealed record OutboxBatch(IReadOnlyList<IReadOnlyList<RecordedEvent>> Appends, long Watermark)
{
    public IReadOnlyList<RecordedEvent> Events { get; } = [.. Appends.SelectMany(a => a)];

    /// <summary>The store's wake-up generation taken just before this batch was read (0: the store does not say).</summary>
    public long WakeUpGeneration { get; init; }

    /// <summary>
    /// Positions had been drawn above the watermark that had not settled when this batch was read: an append still
    /// committing, or one committed behind a transaction still running elsewhere in the database cluster (PostgreSQL).
    /// No wake-up announces the moment they settle, so the consumer looks again soon instead of waiting for the next.
    /// </summary>
    public bool Unsettled { get; init; }

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
