using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Commands;

/// <summary>
/// One aggregate type's streams as folded states: from the cache when deciding (the happy path reads nothing),
/// or fresh from the store when an answer must not rest on what the cache may have missed.
/// </summary>
public sealed class StreamStates<TEvent, TState>(
    IEventStore store, TState initial, Func<TState, TEvent, TState> evolve, EventCodec<TEvent> codec)
    where TEvent : class
{
    private const int ReadPage = 1_000;

    private readonly StateCache<TState> cache = new();

    /// <summary>The cached fold, which may be behind the store (<c>Fresh</c> false), or else a fresh one.</summary>
    public async Task<(Folded<TState> Folded, bool Fresh)> CachedAsync(string streamId, CancellationToken ct) =>
        cache.Get(streamId) is { } cached ? (cached, false) : (await FreshAsync(streamId, ct), true);

    /// <summary>The stream as the store holds it now: the cached fold plus whatever was appended since.</summary>
    public async Task<Folded<TState>> FreshAsync(string streamId, CancellationToken ct)
    {
        var folded = cache.Get(streamId) ?? new Folded<TState>(initial, 0, 0);
        while (true)
        {
            var page = await store.ReadStreamAsync(streamId, folded.Version + 1, ReadPage, ct);
            if (page.Count == 0) break;
            var state = page.Aggregate(folded.State, (s, e) => evolve(s, codec.Decode(e)));
            folded = new Folded<TState>(state, page[^1].StreamVersion, page[^1].Position);
            if (page.Count < ReadPage) break;
        }
        cache.Put(streamId, folded);
        return folded;
    }

    /// <summary>Remembers the state this process has just written.</summary>
    public void Remember(string streamId, Folded<TState> folded) => cache.Put(streamId, folded);
}
