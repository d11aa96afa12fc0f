using GrpcBank.Application.EventStore;

namespace GrpcBank.Stores.Tests;

/// <summary>
/// Reading the global order as a relay or subscriber would. Engines whose commits interleave may show the
/// newest events a little later, so these poll until what the test waits for has arrived.
/// </summary>
public static class EventStoreProbes
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Reads the global order from <paramref name="after"/> until <paramref name="through"/> shows up.</summary>
    public static async Task<List<RecordedEvent>> ReadAllUntilAsync(this IEventStore store, long after, long through)
    {
        var read = new List<RecordedEvent>();
        await Eventually(async () =>
        {
            read.AddRange(await store.ReadAllAsync(read.Count == 0 ? after : read[^1].Position, 1000, Ct));
            return read.Count > 0 && read[^1].Position >= through;
        });
        return read;
    }

    /// <summary>Reads the pending rows (without completing them) until there are <paramref name="count"/>.</summary>
    public static async Task<OutboxBatch> PendingAsync(this IEventStore store, int maxCount, int count, string consumer = "test")
    {
        OutboxBatch? batch = null;
        await Eventually(async () => (batch = await store.Outbox.ReadPendingAsync(consumer, maxCount, Ct)).Events.Count >= count);
        return batch!;
    }

    /// <summary>
    /// Handles and completes everything pending until the watermark reaches <paramref name="through"/>; returns what was
    /// delivered, in delivery order (after <paramref name="first"/>, if given, which is completed but not returned).
    /// </summary>
    public static async Task<List<RecordedEvent>> DrainOutboxAsync(this IEventStore store, long through, OutboxBatch? first = null, string consumer = "test")
    {
        if (first is not null) await store.Outbox.CompleteAsync(consumer, first, Ct);
        var delivered = new List<RecordedEvent>();
        var watermark = 0L;
        await Eventually(async () =>
        {
            var batch = await store.Outbox.ReadPendingAsync(consumer, 3, Ct);
            delivered.AddRange(batch.Events);
            await store.Outbox.CompleteAsync(consumer, batch, Ct);
            watermark = Math.Max(watermark, batch.Watermark);
            return batch.Events.Count == 0 && watermark >= through;
        });
        return delivered;
    }

    public static async Task Eventually(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(50, Ct);
        }
    }
}
