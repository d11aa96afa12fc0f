using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Tests.EventStore;

/// <summary>Event ids are UUIDv7: version and variant set, the time in front, unique.</summary>
public sealed class EventIdsSpecs
{
    [Fact]
    public void AnId_IsAVersion7Uuid_WithTheRfcVariant()
    {
        var id = EventIds.Next();

        Assert.Equal(7, id.Version);
        Assert.Equal(0b10, id.Variant >> 2);
    }

    [Fact]
    public void AnId_BeginsWithItsTimeInMilliseconds_AsGuidCreateVersion7Does()
    {
        var at = new DateTimeOffset(2026, 12, 5, 8, 30, 15, 123, TimeSpan.Zero);

        // The first 12 hex digits are the Unix time in milliseconds, as in the runtime's own UUIDv7.
        Assert.Equal(Guid.CreateVersion7(at).ToString("N")[..12], EventIds.At(at).ToString("N")[..12]);
        Assert.Equal(at.ToUnixTimeMilliseconds(), Convert.ToInt64(EventIds.At(at).ToString("N")[..12], 16));
    }

    [Fact]
    public void IdsOfLaterMilliseconds_SortAfterEarlierOnes()
    {
        var at = new DateTimeOffset(2026, 12, 5, 8, 30, 15, 123, TimeSpan.Zero);
        var ids = Enumerable.Range(0, 1_000).Select(i => EventIds.At(at.AddMilliseconds(i))).ToList();

        Assert.Equal(ids, ids.Order(Comparer<Guid>.Create((a, b) => string.CompareOrdinal(a.ToString("N"), b.ToString("N")))));
    }

    [Fact]
    public void IdsDrawnAtOnceOnManyThreads_AreAllDistinct_EvenWithinOneMillisecond()
    {
        var at = DateTimeOffset.UtcNow;
        var ids = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 25_000; i++) ids.Add(EventIds.At(at));
        });

        Assert.Equal(200_000, ids.Distinct().Count());
    }
}
