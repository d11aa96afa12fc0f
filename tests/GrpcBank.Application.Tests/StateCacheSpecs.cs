using GrpcBank.Application.Commands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// The bound of the folded-state cache (a full cache starts over; a stream put again takes no more room), and its
/// conditional puts, which change an entry only while it is still the one the caller started from.
/// </summary>
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

    /// <param name="unlessChanged">Put as a fresh read does (<see cref="StateCache{TState}.PutUnlessChanged"/>, expecting
    /// the stream not held) rather than as a decision does: both count against the capacity.</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AStreamBeyondTheCapacity_StartsTheCacheOver_WithItselfAsItsOnlyEntry(bool unlessChanged)
    {
        var cache = new StateCache<int>(capacity: 3);
        void Add(string stream)
        {
            if (unlessChanged) cache.PutUnlessChanged(stream, null, At(1));
            else cache.Put(stream, At(1));
        }
        foreach (var stream in new[] { "a", "b", "c", "d" }) Add(stream);

        Assert.Null(cache.Get("a"));
        Assert.Null(cache.Get("c"));
        Assert.NotNull(cache.Get("d"));

        // Counted afresh from there: two more fit before the next start-over.
        Add("e");
        Add("f");
        Assert.NotNull(cache.Get("d"));
        Add("g");
        Assert.Null(cache.Get("d"));
        Assert.NotNull(cache.Get("g"));
    }

    [Fact]
    public void AFoldPutExpectingTheStreamNotHeld_LeavesAnEntryCachedMeanwhile()
    {
        // A fresh read that found nothing cached, while a decision cached its append: that entry is newer than the read.
        var cache = new StateCache<int>();
        var decided = At(5);
        cache.Put("a", decided);

        cache.PutUnlessChanged("a", null, At(3));

        Assert.Same(decided, cache.Get("a"));
    }

    [Fact]
    public void AFoldPutInPlaceOfAnEntryTheCacheNoLongerHolds_PutsNothing()
    {
        // The cache started over (or rolled the entry back) while the fold was read.
        var cache = new StateCache<int>(capacity: 1);
        var seen = At(1);
        cache.Put("a", seen);
        cache.Put("b", At(1));

        cache.PutUnlessChanged("a", seen, At(2));

        Assert.Null(cache.Get("a"));
    }

    [Fact]
    public void ReplacingTheEntryTheCacheHolds_PutsTheNewOne()
    {
        var cache = new StateCache<int>();
        var (held, newer) = (At(1), At(2));
        cache.Put("a", held);

        Assert.True(cache.Replace("a", held, newer));
        Assert.Same(newer, cache.Get("a"));
    }

    [Fact]
    public void ReplacingAnEntryThatWasReplacedMeanwhile_ChangesNothing()
    {
        var cache = new StateCache<int>();
        var (seen, meanwhile) = (At(1), At(2));
        cache.Put("a", seen);
        cache.Put("a", meanwhile);

        Assert.False(cache.Replace("a", seen, At(3)));
        Assert.Same(meanwhile, cache.Get("a"));
    }
}
