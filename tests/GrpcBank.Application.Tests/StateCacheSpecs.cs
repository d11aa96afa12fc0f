using GrpcBank.Application.Commands;

namespace GrpcBank.Application.Tests;

/// <summary>The bound of the folded-state cache: a full cache starts over; a stream put again takes no more room.</summary>
public sealed class StateCacheSpecs
{
    private static Folded<int> At(long version) => new((int)version, version, version);

    [Fact]
    public void AStreamPutAgain_TakesNoMoreRoom_SoAFullCacheKeepsEveryStreamItHolds()
    {
        var cache = new StateCache<int>(capacity: 3);
        foreach (var stream in new[] { "a", "b", "c" }) cache.Put(stream, At(1));
        for (var version = 2; version <= 10; version++) cache.Put("a", At(version));

        Assert.Equal(10, cache.Get("a")!.Version);
        Assert.NotNull(cache.Get("b"));
        Assert.NotNull(cache.Get("c"));
    }

    [Fact]
    public void AStreamBeyondTheCapacity_StartsTheCacheOver_WithItselfAsItsOnlyEntry()
    {
        var cache = new StateCache<int>(capacity: 3);
        foreach (var stream in new[] { "a", "b", "c", "d" }) cache.Put(stream, At(1));

        Assert.Null(cache.Get("a"));
        Assert.Null(cache.Get("c"));
        Assert.NotNull(cache.Get("d"));

        // Counted afresh from there: two more fit before the next start-over.
        cache.Put("e", At(1));
        cache.Put("f", At(1));
        Assert.NotNull(cache.Get("d"));
        cache.Put("g", At(1));
        Assert.Null(cache.Get("d"));
        Assert.NotNull(cache.Get("g"));
    }
}
