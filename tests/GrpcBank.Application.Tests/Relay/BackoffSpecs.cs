using GrpcBank.Application.Relay;

namespace GrpcBank.Application.Tests.Relay;

public sealed class BackoffSpecs
{
    [Fact]
    public void FailuresInARow_DoubleTheWait_UpToFiveSeconds()
    {
        var backoff = new Backoff();

        var waits = Enumerable.Range(0, 12).Select(_ => backoff.Failed().TotalMilliseconds).ToArray();

        Assert.Equal([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000], waits);
    }

    [Fact]
    public void ASuccess_StartsTheNextFailuresFromTheFirstWait()
    {
        var backoff = new Backoff();
        for (var i = 0; i < 10; i++) backoff.Failed();

        backoff.Succeeded();

        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.Failed());
    }
}
