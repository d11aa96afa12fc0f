using GrpcBank.Application.ReadSide;
using GrpcBank.Elasticsearch;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// The same conformance suite on a real Elasticsearch node, wherever GRPCBANK_TEST_ELASTICSEARCH holds its URL.
/// Each test gets its own index prefix. Without a node every test is skipped with the reason.
/// </summary>
public sealed class ElasticsearchReadStoreConformance : ReadStoreConformance
{
    private static readonly string? Url = Environment.GetEnvironmentVariable("GRPCBANK_TEST_ELASTICSEARCH");

    protected override async Task<IReadStore> CreateStoreAsync()
    {
        Assert.SkipWhen(string.IsNullOrWhiteSpace(Url),
            "GRPCBANK_TEST_ELASTICSEARCH is not set and this machine has no Docker engine: no Elasticsearch node to run the read-store conformance suite against");
        var store = new ElasticsearchReadStore(new Uri(Url!), $"grpcbank-test-{Guid.NewGuid():N}");
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }
}
