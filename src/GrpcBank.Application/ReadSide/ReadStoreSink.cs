using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Feeds the relay's events into the read store. An empty read store (new, or reset after a schema
/// change) is first rebuilt from the event store, since the outbox only holds what is not yet delivered. So is one that
/// does not belong to the event store it is fed from (<see cref="StartAsync"/>): files restored from backups of different
/// moments.
/// </summary>
/// <param name="replace">
/// Replaces the read store by a new generation rebuilt from the event store (<see cref="ReadSideRebuild"/>); without it
/// a read store ahead of the event store stops the read side's delivery, saying so.
/// </param>
public sealed class ReadStoreSink(
    IReadStore readStore, IEventStore store, TimeProvider clock, ILogger<ReadStoreSink> logger,
    Func<CancellationToken, Task>? replace = null) : IEventSink
{
    public const string SinkName = "read-side";
    /// <summary>
    /// Events read and applied at a time in a replay: large, so per-call costs (a round trip, a commit, and reading and
    /// writing each view the page touches once) vanish; two pages are in memory at a time (one read while one is applied).
    /// </summary>
    private const int ReplayBatch = 25_000;

    /// <summary>The smallest page <see cref="ReplayPageFor"/> gives: below it, per-page costs would start to show.</summary>
    private const int MinReplayPage = 1_000;

    private readonly SemaphoreSlim gate = new(1, 1);
    private long maxDelivered;

    public string Name => SinkName;

    /// <summary>The highest position ever handed to the read store (events may arrive out of position order).</summary>
    public long MaxDeliveredPosition => Interlocked.Read(ref maxDelivered);

    /// <summary>
    /// Makes the read store hold what the event store holds up to the relay's checkpoint before the relay goes on from
    /// there. A read store restored from another moment than the event store does not: one that has applied positions
    /// beyond the store's head (the event store restored from an older backup) shows a history the store no longer holds,
    /// and since the store gives those positions to new events, the view's version guards and watermark would take them
    /// for ones already applied and skip them for good; it is replaced by a rebuild. One behind the read side's checkpoint
    /// (the read store restored from an older backup, or copied before the event store) was never given what lies between,
    /// which is replayed into it from the event store.
    /// </summary>
    public async Task StartAsync(Action progressed, CancellationToken ct)
    {
        var applied = await readStore.AppliedPositionAsync(ct);
        if (applied > 0 && await store.HeadPositionAsync(ct) is var head && applied > head)
        {
            logger.LogWarning("The read side has applied positions up to {Applied}, beyond the event store's head {Head}: the event store is older than the read store (restored from an older backup?), and new events take those positions. Rebuilding the read side from the event store",
                applied, head);
            await (replace ?? throw new InvalidOperationException(
                $"The read side has applied positions up to {applied}, beyond the event store's head {head}: rebuild it from the event store"))(ct);
            return;
        }
        var checkpoint = applied > 0 ? await store.Outbox.CheckpointAsync(SinkName, ct) : 0;
        if (applied > 0 && applied >= checkpoint) return;
        if (applied > 0)
            logger.LogWarning("The read side has applied positions up to {Applied}, behind the checkpoint {Checkpoint} its relay consumer recorded (a read store older than the event store, or one stopped while PostgreSQL positions it had been given were unsettled); replaying what comes after it from the event store",
                applied, checkpoint);
        // A heartbeat per page applied: a replay of millions of events takes minutes, and a read side that applies pages
        // is not one stuck (grpcbank.relay.heartbeat, GrpcBankConsumerNotHeartbeating); one stuck on a page stops beating.
        var replayed = await ReplayAsync(readStore, applied, _ => progressed(), ct);
        if (replayed.Count > 0) logger.LogInformation("Read side rebuilt from {Count} events of the event store", replayed.Count);
    }

    public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            await readStore.ApplyAsync(events, watermark, ct);
            if (events.Count > 0) InterlockedMax(ref maxDelivered, events.Max(e => e.Position));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Runs <paramref name="work"/> while no batch is being delivered (the relay waits meanwhile).</summary>
    public async Task<T> PausedAsync<T>(Func<Task<T>> work, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            return await work();
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The page for a replay of about <paramref name="events"/> events whose progress is reported (after each page): a
    /// tenth of them, so progress moves by tenths without any work per event; at least <see cref="MinReplayPage"/>, and at
    /// most <see cref="ReplayBatch"/>, which every replay of 250,000 events or more (where replay speed counts) still uses.
    /// </summary>
    public static int ReplayPageFor(long events) => (int)Math.Clamp((events + 9) / 10, MinReplayPage, ReplayBatch);

    /// <summary>
    /// Applies every committed event after <paramref name="after"/> from the event store to <paramref name="target"/>,
    /// with watermark 0: replayed views are exact, but only the relay knows which positions are settled. Each page is
    /// one of the target's transactions and ends where an append ends (<see cref="Appends"/>), so a reader of a target
    /// that serves while it is replayed into (an empty read side filling up) sees a past state of the bank, never half of
    /// a transfer. <paramref name="progress"/> hears the events applied so far after each page of about
    /// <paramref name="pageSize"/> events.
    /// </summary>
    public async Task<(int Count, long LastPosition)> ReplayAsync(
        IReadStore target, long after, Action<long> progress, CancellationToken ct, int pageSize = ReplayBatch)
    {
        var count = 0;
        IReadOnlyList<RecordedEvent> carried = [];
        // The next page is read while this one is applied: the event store and the read store work side by side.
        var page = await store.ReadAllWithoutMetadataAsync(after, pageSize, ct);
        while (page.Count > 0 || carried.Count > 0)
        {
            var next = page.Count == 0 ? Task.FromResult<IReadOnlyList<RecordedEvent>>([]) : store.ReadAllWithoutMetadataAsync(page[^1].Position, pageSize, ct);
            var appends = Appends([.. carried, .. page]);
            // A full page may end inside an append: its last append goes with the next page, which holds the rest of it.
            carried = page.Count == pageSize && appends.Count > 1 ? appends[^1] : [];
            if (carried.Count > 0) appends.RemoveAt(appends.Count - 1);
            try
            {
                await PoisonEvents.HandleAsync(SinkName, appends, 0,
                    (batch, watermark) => target.ApplyAsync(batch, watermark, ct), store.DeadLetters, clock, logger, ct);
            }
            catch
            {
                await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                throw;
            }
            after = appends[^1][^1].Position;
            count += appends.Sum(a => a.Count);
            progress(count);
            page = await next;
        }
        return (count, after);
    }

    /// <summary>
    /// The events, in position order, cut where an append ends, as far as the global order tells: the events of one
    /// append have consecutive positions and its one recording time, so a change of time is an end. Two appends recorded
    /// in the same tick stay together, which only makes a page's last part larger.
    /// </summary>
    private static List<IReadOnlyList<RecordedEvent>> Appends(RecordedEvent[] events)
    {
        var appends = new List<IReadOnlyList<RecordedEvent>>();
        var from = 0;
        for (var i = 1; i <= events.Length; i++)
            if (i == events.Length || events[i].RecordedAt != events[from].RecordedAt)
            {
                appends.Add(new ArraySegment<RecordedEvent>(events, from, i - from));
                from = i;
            }
        return appends;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while ((seen = Interlocked.Read(ref target)) < value)
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
    }
}
