using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.Application.Commands;

/// <summary>
/// One aggregate type's streams as folded states: from the cache when deciding (the happy path reads nothing),
/// or fresh from the store when an answer must not rest on what the cache may have missed. A stream the cache does
/// not hold starts from its newest snapshot; a fold that passes a multiple of <c>snapshotEvery</c> versions saves one
/// (a large state's, less often: <see cref="StreamStates.SnapshotCharsPerVersion"/>).
/// </summary>
/// <param name="otherWriters">Told when a decision meets another process's append to one of these streams (its append
/// refused for it, or taken on a fold that following moved on), and then feeds such appends in (<see cref="Follow"/>).</param>
public sealed class StreamStates<TEvent, TState>(
    IEventStore store, TState initial, Func<TState, TEvent, TState> evolve, EventCodec<TEvent> codec,
    ILogger? log = null, int snapshotEvery = StreamStates.SnapshotEvery, OtherWriters? otherWriters = null)
    where TEvent : class
{
    private const int ReadPage = 1_000;

    private readonly StateCache<TState> cache = new();
    private readonly StateSnapshots<TState> snapshots = new(store.Snapshots, log ?? NullLogger.Instance, snapshotEvery);

    /// <summary>
    /// The cached fold, which may be behind the store or rest on appends not yet committed (<c>Fresh</c> false), or
    /// else a fresh one.
    /// </summary>
    public async Task<(Folded<TState> Folded, bool Fresh)> CachedAsync(string streamId, CancellationToken ct) =>
        cache.Get(streamId) is { } cached ? (cached, false) : (await FreshAsync(streamId, ct), true);

    /// <summary>
    /// The cached fold if it shows the stream <paramref name="started"/>, else the stream as the store holds it. For what,
    /// once true, stays true (an account opened, an order placed, a payment made): a cache behind the store can be wrong
    /// only about "not yet", so only that is read again, and only if the cached fold was not just read.
    /// </summary>
    public async Task<Folded<TState>> StartedAsync(string streamId, Func<TState, bool> started, CancellationToken ct)
    {
        var (folded, fresh) = await CachedAsync(streamId, ct);
        return fresh || started(folded.State) ? folded : await FreshAsync(streamId, ct);
    }

    /// <summary>
    /// The cached fold, or the empty stream when the cache does not hold it — without reading. Only for a decision whose
    /// append guards the stream (expected version 0 fails if it exists) or that is re-checked on a fresh read.
    /// </summary>
    public Folded<TState> CachedOrEmpty(string streamId) => cache.Get(streamId) ?? new Folded<TState>(initial, 0, 0);

    /// <summary>
    /// The stream as the store holds it now, committed: once this process's own appends to it are settled, the cached
    /// fold (or the newest snapshot) plus whatever was appended since.
    /// </summary>
    public async Task<Folded<TState>> FreshAsync(string streamId, CancellationToken ct)
    {
        // An answer on a fresh state must not rest on an append that may yet fail, nor miss one that is about to commit.
        while (cache.Get(streamId)?.Unsettled is { } unsettled) await unsettled.Settled.WaitAsync(ct);
        var seen = cache.Get(streamId);
        var start = seen?.Committed
            ?? await snapshots.LoadAsync(streamId, long.MaxValue, ct)
            ?? new Folded<TState>(initial, 0, 0);
        var folded = start;
        while (true)
        {
            var page = await store.ReadStreamAsync(streamId, folded.Version + 1, ReadPage, ct);
            if (page.Count == 0) break;
            var state = page.Aggregate(folded.State, (s, e) => evolve(s, codec.Decode(e)));
            folded = new Folded<TState>(state, page[^1].StreamVersion, page[^1].Position);
            if (page.Count < ReadPage) break;
        }
        // Only in place of the committed entry the read started from. A read without the stream's lock (StartedAsync: a
        // placement's merchant, a refund's payment) may end after a decision under the lock cached an unsettled append,
        // which the next decision must rest on: overwritten by this fold, which lacks it, the next decision lost its
        // append's guard to this process's own append (read and appended again, and OtherWriters woken on a lone server),
        // and a rejection no longer waited for the append before it.
        if (seen?.Unsettled is null) cache.PutUnlessChanged(streamId, seen, folded);
        snapshots.SaveIfPassed(streamId, start.Version, folded);
        return folded;
    }

    /// <summary>
    /// Caches the state <paramref name="append"/> leaves as soon as it is handed to the store, so the next decision on
    /// the stream (under the stream's lock) need not wait for the commit: its append then expects this one's last event
    /// (<see cref="Folded{TState}.Then"/>) and cannot commit unless this one did. When the append commits, the entry is
    /// confirmed; when it fails (or its outcome is unknown), the entry and any resting on it are rolled back to the
    /// committed fold beneath, so no later decision uses a state that never committed.
    /// </summary>
    /// <param name="before">The fold the decision was taken on.</param>
    /// <param name="after">The fold after the append's events on this stream.</param>
    /// <param name="lastEventId">The append's last event on this stream.</param>
    /// <returns>Completes (never faults) once the cache has taken the append's outcome in: await it before answering.</returns>
    public Task RememberUnsettled(string streamId, Folded<TState> before, Folded<TState> after, Guid lastEventId, Task<AppendResult> append)
    {
        // A decision on a fold that following moved on: another process writes this stream too, so keep following.
        if (before.Followed) otherWriters?.Noticed();
        var unsettled = new Unsettled<TState>(lastEventId, before.Committed);
        var entry = after with { Unsettled = unsettled, Followed = false };
        cache.Put(streamId, entry);
        _ = SettleAsync(streamId, before, entry, unsettled, append);
        return unsettled.Settled;
    }

    /// <summary>
    /// Takes in an event appended by another process (<see cref="OtherWriters"/>): a cached fold that ends just before
    /// it, with no append of this process unsettled on it, moves on by it, so the next decision on the stream need not
    /// lose a race to learn of it. Any other fold is left as it is: the append's guard still catches what it misses.
    /// </summary>
    /// <returns>Whether a cached fold took the event in.</returns>
    public bool Follow(RecordedEvent e) =>
        cache.Get(e.StreamId) is { Unsettled: null } cached && cached.Version == e.StreamVersion - 1
        && cache.Replace(e.StreamId, cached, new Folded<TState>(evolve(cached.State, codec.Decode(e)), e.StreamVersion, e.Position) { Followed = true });

    private async Task SettleAsync(string streamId, Folded<TState> before, Folded<TState> entry, Unsettled<TState> unsettled, Task<AppendResult> append)
    {
        try
        {
            AppendResult? result;
            try
            {
                result = await append.ConfigureAwait(false);
            }
            catch
            {
                result = null; // The caller hears of it; here it only means: not known to be committed.
            }
            if (result is AppendResult.Appended a)
            {
                var committed = entry with { Position = a.Position, Unsettled = null };
                if (!cache.Replace(streamId, entry, committed) && cache.Get(streamId)?.Unsettled is { } later)
                    later.CommittedBeneath(committed);
                // Counted over this append's own versions, so each multiple is saved once, by the append that passed it:
                // not from the committed fold beneath (a chain of appends would each count from the same old fold and
                // save again), and also when a later append rests on this one (else a busy stream whose appends always
                // chain would get no snapshot at all).
                snapshots.SaveIfPassed(streamId, before.Version, committed);
            }
            else
            {
                // Refused at this stream's guard though the decision rested on a committed fold: the store holds an
                // append this process did not make (another server's; a stream the cache did not hold, taken as empty).
                if (result is AppendResult.WrongExpectedVersion lost && lost.StreamId == streamId && before.Unsettled is null)
                    otherWriters?.Noticed();
                // Whatever rests on this append (a later unsettled entry) cannot commit either: back to the committed fold.
                while (cache.Get(streamId) is { Unsettled: { } resting } current && current.Version >= entry.Version
                       && !cache.Replace(streamId, current, resting.Committed))
                {
                }
            }
        }
        finally
        {
            unsettled.Done();
        }
    }
}

/// <summary>Settings shared by every <see cref="StreamStates{TEvent, TState}"/>.</summary>
public static class StreamStates
{
    /// <summary>
    /// A snapshot is saved each time a stream passes a multiple of this many versions (a large state's less often:
    /// <see cref="SnapshotCharsPerVersion"/>): a cold load then folds fewer events
    /// than this (reading and folding 999 of them took 5–10 ms of a restarted server's first command; 99 take about 1 ms),
    /// for one small background write per this many events of a stream.
    /// </summary>
    public const int SnapshotEvery = 100;

    /// <summary>
    /// After a snapshot larger than <see cref="SnapshotEvery"/> versions of this, the next is saved only as many versions
    /// later as it has characters divided by this, so writing snapshots costs at most about this much a command. An
    /// account keeps every hold it ever had: one of 20,000 resolved holds (a 1.6 MB snapshot) was written every 100
    /// commands, 16 KB a command through the embedded store's single writer; now every 1,583, under 1 KB a command. A
    /// restarted server reads that snapshot back in 25–45 ms, and folding the up to 1,582 events after it adds 5–10 ms.
    /// </summary>
    public const int SnapshotCharsPerVersion = 1_024;
}
