namespace GrpcBank.Elasticsearch.Tests;

/// <summary>Bulk requests are sized by bytes, not by count: a batch of large documents is split, in order, and none is lost.</summary>
public sealed class BulkSizeTests
{
    private sealed record Doc(string Text);

    private static DocumentWrite Write(int i, int textBytes) =>
        DocumentWrite.Of("grpcbank-transactions", $"t-{i}", i, i, new Doc(new string('x', textBytes)));

    [Fact]
    public void GivenWritesLargerTogetherThanTheLimit_WhenSplit_ThenEachRequestStaysUnderItAndTheOrderIsKept()
    {
        var writes = Enumerable.Range(1, 50).Select(i => Write(i, 1_000)).ToList();

        var requests = BulkWriter.Requests(writes, maxBytes: 10_000).ToList();

        Assert.True(requests.Count > 1, "everything went in one request");
        Assert.All(requests, r => Assert.True(r.Sum(w => w.Bytes) <= 10_000, $"a request of {r.Sum(w => w.Bytes)} bytes"));
        Assert.Equal(writes, requests.SelectMany(r => r));
    }

    [Fact]
    public void GivenOneWriteLargerThanTheLimit_WhenSplit_ThenItGoesAlone()
    {
        var writes = new[] { Write(1, 100), Write(2, 20_000), Write(3, 100) };

        var requests = BulkWriter.Requests(writes, maxBytes: 10_000).Select(r => r.Select(w => w.Id).ToArray()).ToList();

        Assert.Equal([["t-1"], ["t-2"], ["t-3"]], requests);
    }

    [Fact]
    public void TheEstimate_CoversTheDocumentAndItsActionLine()
    {
        var write = Write(1, 1_000);

        Assert.InRange(write.Bytes, 1_000 + "grpcbank-transactions".Length + "t-1".Length, 1_300);
    }
}
