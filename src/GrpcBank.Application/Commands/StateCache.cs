using System.Collections.Concurrent;
using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Commands;

/// <summary>
/// The last folded state of recently used streams. An entry is only a starting point: the handler
/// always reads the events after its version, so a stale entry costs a read, never a wrong decision.
/// Keeps loading cost independent of stream length.
/// </summary>
public sealed class StateCache<TState>(int capacity = 100_000)
{
    private readonly ConcurrentDictionary<string, Folded<TState>> entries = new(StringComparer.Ordinal);

    /// <summary>
    /// Streams added since the cache last started over (approximately: racing puts may miscount by a few). Counted here
    /// because <see cref="ConcurrentDictionary{TKey, TValue}.Count"/> takes every one of the dictionary's locks, up to
    /// 1,024 once it has grown: in the payments' cache, which gains a stream per transfer, that was a tenth of a
    /// transfer's server CPU at saturation (perf).
    /// </summary>
    private int added;

    public Folded<TState>? Get(string streamId) => entries.TryGetValue(streamId, out var f) ? f : null;

    public void Put(string streamId, Folded<TState> folded)
    {
        MakeRoomFor(streamId);
        entries[streamId] = folded;
    }

    /// <summary>
    /// Puts <paramref name="with"/> in place of <paramref name="expected"/> (none: the stream is not held), only if the
    /// cache still holds exactly that.
    /// </summary>
    public void PutUnlessChanged(string streamId, Folded<TState>? expected, Folded<TState> with)
    {
        if (expected is not null)
        {
            Replace(streamId, expected, with);
            return;
        }
        MakeRoomFor(streamId);
        entries.TryAdd(streamId, with);
    }

    private void MakeRoomFor(string streamId)
    {
        // Crude but bounded: a full cache starts over rather than tracking recency on every hit.
        if (!entries.ContainsKey(streamId) && Interlocked.Increment(ref added) > capacity)
        {
            entries.Clear();
            Volatile.Write(ref added, 1);
        }
    }

    /// <summary>Puts <paramref name="with"/> in place of <paramref name="expected"/>, only if that entry is still there.</summary>
    public bool Replace(string streamId, Folded<TState> expected, Folded<TState> with) =>
        entries.TryGetValue(streamId, out var current) && ReferenceEquals(current, expected) && entries.TryUpdate(streamId, with, current);
}

/// <summary>A stream's state after folding its events up to <see cref="Version"/>.</summary>
public sealed record Folded<TState>(TState State, long Version, long Position)
{
    /// <summary>Set while the state includes an append of this process that is not yet known to be committed.</summary>
    public Unsettled<TState>? Unsettled { get; init; }

    /// <summary>Moved on by another process's append (<see cref="StreamStates{TEvent, TState}.Follow"/>) since this process last read or wrote it.</summary>
    public bool Followed { get; init; }

    /// <summary>The newest fold known to be committed that this one rests on: itself when nothing is unsettled.</summary>
    public Folded<TState> Committed => Unsettled?.Committed ?? this;

    /// <summary>
    /// The part of an append that writes <paramref name="events"/> after this state: guarded by its version and, when it
    /// rests on an unsettled append, by that append's last event, so it cannot commit unless that append did.
    /// </summary>
    public StreamAppend Then(string streamId, IReadOnlyList<EventData> events) =>
        new(streamId, Version, events) { ExpectedLastEventId = Unsettled?.LastEventId };
}

/// <summary>
/// An append handed to the store but not yet answered, whose resulting state is cached already
/// (<see cref="StreamStates{TEvent, TState}.RememberUnsettled"/>).
/// </summary>
public sealed class Unsettled<TState>(Guid lastEventId, Folded<TState> committed)
{
    // Continuations run where the append's outcome is taken in (StreamStates.SettleAsync), which is the waiting command's
    // own thread already: the store answers every caller of a group on a thread of its own (GroupCommit). One hop
    // through the thread pool less per command, which a lone caller waits for.
    private readonly TaskCompletionSource settled = new();
    private volatile Folded<TState> committed = committed;

    /// <summary>The id of the append's last event on this stream: what a decision resting on it expects there.</summary>
    public Guid LastEventId { get; } = lastEventId;

    /// <summary>The newest fold of the stream known to be committed beneath the append (what the cache rolls back to).</summary>
    public Folded<TState> Committed => committed;

    /// <summary>Completes (never faults) once the cache has taken the append's outcome in: confirmed or rolled back.</summary>
    public Task Settled => settled.Task;

    /// <summary>A later commit of this process moved the committed fold beneath this append forward.</summary>
    internal void CommittedBeneath(Folded<TState> newer)
    {
        if (newer.Version > committed.Version) committed = newer;
    }

    internal void Done() => settled.TrySetResult();
}
