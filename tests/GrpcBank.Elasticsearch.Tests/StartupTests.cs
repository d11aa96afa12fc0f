using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

public sealed class StartupTests
{
    [Fact]
    public async Task GivenAnEmptyCluster_WhenInitialized_ThenEveryIndexIsCreatedWithStrictMappingsBehindItsAlias()
    {
        var node = new RecordingInvoker()
            .On("GET", "/_alias/grpcbank-*", "{}")
            .On("PUT", "/grpcbank-deadletters", """{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-deadletters"}""");
        foreach (var view in new[] { "accounts", "transactions", "orders", "payments", "checkpoint", "holds" })
            node.On("PUT", $"/grpcbank-{view}-v2-1", $$"""{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-{{view}}-v2-1"}""");

        await Store(node).InitializeAsync(CancellationToken.None);

        Snapshot.Match(node.Transcript());
    }

    [Fact]
    public async Task GivenGeneration1BehindTheAliases_WhenInitialized_ThenNothingIsCreated_TimedRefreshesAreTurnedOff_AndWritesGoToGeneration1()
    {
        var node = Node();
        var store = Store(node);

        await store.InitializeAsync(CancellationToken.None);

        Assert.Equal(["PUT /grpcbank-deadletters", "GET /_alias/grpcbank-*", $"PUT /{ViewsOfGeneration1}/_settings"],
            node.Sent.Select(r => $"{r.Method} {r.Path}"));
        Assert.Equal("""{"index":{"refresh_interval":"-1"}}""", node.Sent[^1].Body);
        Assert.Equal("1", await store.CurrentGenerationAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GivenAnAliasOnTwoIndices_WhenInitialized_ThenItRefusesToGuessWhereToWrite()
    {
        var node = Node().On("GET", "/_alias/grpcbank-*", """
            {"grpcbank-accounts-v2-1":{"aliases":{"grpcbank-accounts":{}}},
             "grpcbank-accounts-v2-2":{"aliases":{"grpcbank-accounts":{}}}}
            """);

        var error = await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => Store(node).InitializeAsync(CancellationToken.None));

        Assert.Contains("points at both", error.Message);
    }

    [Fact]
    public async Task GivenNoNodeListening_WhenApplying_ThenItThrowsSoTheRelayBacksOff()
    {
        var store = new ElasticsearchReadStore(new Uri("http://127.0.0.1:9"), "grpcbank");

        await Assert.ThrowsAnyAsync<Exception>(() => store.ApplyAsync(Batch(), 4, CancellationToken.None));
    }
}
