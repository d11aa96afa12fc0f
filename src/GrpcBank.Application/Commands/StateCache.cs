using System.Collections.Concurrent;

namespace GrpcBank.Application.Commands;

/// <summary>
/// The last folded state of recently used streams. An entry is only a starting point: the handler
/// always reads the events after its version, so a stale entry costs a read, never a wrong decision.
/// Keeps loading cost independent of stream length.
/// </summary>
public sealed class StateCache<TState>(int capacity = 100_000)
{
    private readonly ConcurrentDictionary<string, Folded<TState>> entries = new(StringComparer.Ordinal);

    public Folded<TState>? Get(string streamId) => entries.TryGetValue(streamId, out var f) ? f : null;

    public void Put(string streamId, Folded<TState> folded)
    {
        // Crude but bounded: a full cache starts over rather than tracking recency on every hit.
        if (entries.Count >= capacity) entries.Clear();
        entries[streamId] = folded;
    }
}

/// <summary>A stream's state after folding its events up to <see cref="Version"/>.</summary>
public sealed record Folded<TState>(TState State, long Version, long Position);
