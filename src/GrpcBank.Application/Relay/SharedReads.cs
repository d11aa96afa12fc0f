using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Relay;

/// <summary>
/// Outbox reads shared by consumers that stand at the same checkpoint. Each consumer is still driven on its own, but most
/// of the time they are in step, and a batch read after a checkpoint is exactly the batch any consumer at that checkpoint
/// would read: it takes that one (or waits for the read under way) instead of reading the outbox again, which costs the
/// database a query that renders every pending event. A consumer that is behind cuts its own read after the last event
/// that is another's checkpoint, so it falls into step. Keys are positions of the last event a consumer has completed,
/// known once it has completed a batch since this relay became active: a position names its row in the outbox order,
/// and the rows before it in that order are the same for every reader that sees it.
/// </summary>
internal sealed class SharedReads(bool enabled)
{
    /// <summary>Batches kept for consumers that have not taken them yet (the newest, by when they were read).</summary>
    private const int Kept = 16;

    private readonly Lock gate = new();
    private readonly Dictionary<string, long> checkpoints = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Task<OutboxBatch>> reads = [];
    private readonly Queue<long> readOrder = new();

    /// <summary>Forgets everything: another relay may have moved the checkpoints since.</summary>
    public void Reset()
    {
        lock (gate)
        {
            checkpoints.Clear();
            reads.Clear();
            readOrder.Clear();
        }
    }

    /// <summary>
    /// The batch after <paramref name="consumer"/>'s checkpoint: one read (or being read) by a consumer at the same
    /// checkpoint, else read by <paramref name="read"/> for everyone at it. A batch read afresh by a consumer that is
    /// behind another is cut after the other's checkpoint (<paramref name="watermark"/>, the consumer's own, holds for it).
    /// </summary>
    /// <param name="maxCount">Events a batch taken from others grows to at most (more to keep their batches whole).</param>
    /// <returns>The batch, and whether it was cut (more is pending at once).</returns>
    public async Task<(OutboxBatch Batch, bool Cut)> ReadAsync(string consumer, long watermark, int maxCount, Func<Task<OutboxBatch>> read)
    {
        Task<OutboxBatch>? shared = null;
        TaskCompletionSource<OutboxBatch>? mine = null;
        long at;
        lock (gate)
        {
            // Not known yet (nothing completed since the relay became active), or nobody to share with: read alone, keep nothing.
            if (!enabled || !checkpoints.TryGetValue(consumer, out at)) at = 0;
            else if (!reads.TryGetValue(at, out shared))
            {
                mine = new TaskCompletionSource<OutboxBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
                reads[at] = shared = mine.Task;
                readOrder.Enqueue(at);
                while (readOrder.Count > Kept) reads.Remove(readOrder.Dequeue());
            }
        }
        if (shared is not null && mine is null) return (FollowedByReadsDone(await shared, maxCount), false);

        OutboxBatch batch;
        try
        {
            batch = await read();
        }
        catch (Exception e)
        {
            if (mine is not null)
            {
                Forget(at, mine.Task);
                mine.SetException(e);
            }
            throw;
        }
        if (mine is not null)
        {
            // An empty batch is only news while it is being read: kept, it would hold back a consumer that takes it later.
            if (batch.Events.Count == 0) Forget(at, mine.Task);
            mine.SetResult(batch);
        }
        return CutAtAnotherCheckpoint(at, batch, watermark);
    }

    /// <summary>
    /// <paramref name="batch"/> and the batches read after it that are done, up to about <paramref name="maxCount"/> events:
    /// a consumer that trails a faster one takes what it read meanwhile in one delivery, as its own read would have.
    /// </summary>
    private OutboxBatch FollowedByReadsDone(OutboxBatch batch, int maxCount)
    {
        lock (gate)
        {
            var (appends, count, watermark, generation) = (batch.Appends.ToList(), batch.Events.Count, batch.Watermark, batch.WakeUpGeneration);
            while (count > 0 && count < maxCount
                   && reads.TryGetValue(appends[^1][^1].Position, out var next) && next.IsCompletedSuccessfully && next.Result.Events.Count > 0)
            {
                appends.AddRange(next.Result.Appends);
                count += next.Result.Events.Count;
                // Each batch's watermark holds once everything up to its end is handled, and this handles up to the last one's end.
                watermark = Math.Max(watermark, next.Result.Watermark);
                generation = next.Result.WakeUpGeneration;
            }
            return appends.Count == batch.Appends.Count ? batch : new OutboxBatch(appends, watermark) { WakeUpGeneration = generation, Unsettled = batch.Unsettled };
        }
    }

    /// <summary>Whether a batch after <paramref name="consumer"/>'s checkpoint has been read, or is being read, by another.</summary>
    public bool HasReadFor(string consumer)
    {
        lock (gate) return checkpoints.TryGetValue(consumer, out var at) && reads.ContainsKey(at);
    }

    /// <summary>Records what <paramref name="consumer"/> has completed: its next batch is read after it.</summary>
    public void Completed(string consumer, OutboxBatch batch)
    {
        if (batch.Events.Count == 0) return;
        lock (gate) checkpoints[consumer] = batch.Events[^1].Position;
    }

    private void Forget(long at, Task<OutboxBatch> read)
    {
        lock (gate)
            if (reads.TryGetValue(at, out var kept) && kept == read) reads.Remove(at);
    }

    private (OutboxBatch, bool) CutAtAnotherCheckpoint(long at, OutboxBatch batch, long watermark)
    {
        lock (gate)
        {
            // Whole appends only, and not at the batch's own end (nothing to gain there).
            for (var i = batch.Appends.Count - 2; i >= 0; i--)
            {
                var last = batch.Appends[i][^1].Position;
                if (last != at && reads.ContainsKey(last))
                    return (new OutboxBatch([.. batch.Appends.Take(i + 1)], watermark) { WakeUpGeneration = batch.WakeUpGeneration, Unsettled = batch.Unsettled }, true);
            }
        }
        return (batch, false);
    }
}
