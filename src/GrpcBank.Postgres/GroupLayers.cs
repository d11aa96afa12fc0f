using GrpcBank.Application.EventStore;

namespace GrpcBank.Postgres;

/// <summary>
/// Splits a group into layers written one statement after another in its transaction. Within a layer no two appends
/// share a stream or a request id, so one set-based statement can check all their guards against what is stored; an
/// append that shares one with an earlier append goes to a later layer than it, so it sees that append's write (two
/// appends to one stream chain; a request id's second use finds it logged).
/// </summary>
internal static class GroupLayers
{
    /// <summary>The indexes of <paramref name="requests"/> per layer, each in submission order.</summary>
    public static IReadOnlyList<IReadOnlyList<int>> Of(IReadOnlyList<AppendRequest> requests)
    {
        var layers = new List<List<int>>();
        // The deepest layer each stream id / request id has been used in so far.
        var lastLayerOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < requests.Count; i++)
        {
            var keys = requests[i].OrderingKeys.ToList();
            var layer = keys.Select(k => lastLayerOf.TryGetValue(k, out var used) ? used + 1 : 0).DefaultIfEmpty(0).Max();
            if (layer == layers.Count) layers.Add([]);
            layers[layer].Add(i);
            foreach (var key in keys) lastLayerOf[key] = layer;
        }
        return layers;
    }
}
