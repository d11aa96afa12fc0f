using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

public sealed class RebuildTests
{
    private static readonly string[] Views = ["accounts", "transactions", "orders", "payments", "checkpoint", "holds"];

    /// <summary>Generation 2's indices, as one comma-separated list (how settings, refreshes and deletes name them).</summary>
    private static readonly string Generation2 = string.Join(",", Views.Select(v => $"grpcbank-{v}-v3-2"));

    /// <summary>A node that acknowledges the creation of every index of generation 2.</summary>
    private static RecordingInvoker NodeThatCreatesGeneration2()
    {
        var node = Node();
        foreach (var view in Views)
            node.On("PUT", $"/grpcbank-{view}-v3-2", $$"""{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-{{view}}-v3-2"}""");
        return node;
    }

    [Fact]
    public async Task GivenGeneration1IsLive_WhenGeneration2IsBuiltAndSwitchedTo_ThenOneAliasRequestMovesEveryAliasAndOnlyThenGeneration1IsDeleted()
    {
        var node = NodeThatCreatesGeneration2();
        node.On("POST", "/_aliases", """{"acknowledged":true}""")
            .On("DELETE", "/" + string.Join(",", Views.Select(v => $"grpcbank-{v}-v3-1")), """{"acknowledged":true}""")
            .On("PUT", "/grpcbank-checkpoint-v3-2/_doc/applied", 201, Indexed("grpcbank-checkpoint-v3-2", "applied", 7));
        var live = await StartedStore(node);
        var progress = new List<string>();

        var rebuilt = await live.CreateGenerationAsync("2", progress.Add, CancellationToken.None);
        await rebuilt.ApplyAsync([], 7, CancellationToken.None); // the host feeds it from the event store
        await live.SwitchToAsync(rebuilt, progress.Add, CancellationToken.None);

        // The whole sequence in one line a request, then the swap and the delete in full.
        var sequence = string.Join("\n", node.Sent.Select(r => $"{r.Method} {r.Path}{r.Query}"));
        Snapshot.Match(sequence + "\n\n" + node.Transcript(skip: node.Sent.FindIndex(r => r.Path == "/_aliases")));
        Assert.Equal("2", await live.CurrentGenerationAsync(CancellationToken.None));
        Assert.Equal("deleted grpcbank-accounts-v3-1, grpcbank-transactions-v3-1, grpcbank-orders-v3-1, grpcbank-payments-v3-1, grpcbank-checkpoint-v3-1, grpcbank-holds-v3-1", progress[^1]);
    }

    [Fact]
    public async Task GivenANewGeneration_WhenItIsLoaded_ThenItHasNoReplicasAndNoRefreshUntilTheLoadEnds_ThenReplicasAndOneRefreshBeforeTheSwap()
    {
        var node = NodeThatCreatesGeneration2();
        node.On("POST", "/grpcbank-accounts-v3-2/_mget", MGetMiss("grpcbank-accounts-v3-2", "acc-1"))
            .On("POST", "/grpcbank-orders-v3-2/_mget", MGetMiss("grpcbank-orders-v3-2", "ord-1"))
            .On("POST", "/grpcbank-payments-v3-2/_mget", MGetMiss("grpcbank-payments-v3-2", "pay-1"))
            .On("POST", "/_bulk", 200, Bulk(BulkItem("grpcbank-transactions-v3-2", "00000000-0000-0000-0000-000000000002", 201)), once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem("grpcbank-accounts-v3-2", "acc-1", 201), BulkItem("grpcbank-orders-v3-2", "ord-1", 201),
                BulkItem("grpcbank-payments-v3-2", "pay-1", 201)), once: true)
            .On("PUT", $"/{Generation2}/_settings", """{"acknowledged":true}""")
            .On("POST", $"/{Generation2}/_refresh", Refreshed)
            .On("POST", "/_aliases", """{"acknowledged":true}""")
            .On("DELETE", "/" + string.Join(",", Views.Select(v => $"grpcbank-{v}-v3-1")), """{"acknowledged":true}""");
        var live = await StartedStore(node);

        var rebuilt = await live.CreateGenerationAsync("2", null, CancellationToken.None);
        await rebuilt.ApplyAsync(Batch(), 0, CancellationToken.None); // replayed: no watermark, and no refresh while loading
        await new ElasticsearchReadStoreGenerations(live).FinishLoadAsync(rebuilt, CancellationToken.None);
        await live.SwitchToAsync(rebuilt, null, CancellationToken.None);

        var sequence = string.Join("\n", node.Sent.Select(r => $"{r.Method} {r.Path}{r.Query}"));
        Snapshot.Match(sequence + "\n\n" + node.Transcript(skip: node.Sent.FindIndex(r => r.Path.EndsWith("/_settings", StringComparison.Ordinal))));
        Assert.All(node.Sent.Where(r => r.Method == "PUT" && Views.Any(v => r.Path == $"/grpcbank-{v}-v3-2")),
            create => Assert.Contains("\"number_of_replicas\":0", create.Body));
        Assert.DoesNotContain(node.Sent.TakeWhile(r => !r.Path.EndsWith("/_settings", StringComparison.Ordinal)), r => r.Path.EndsWith("/_refresh", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GivenANewGenerationWhoseRebuildWasAbandoned_WhenItIsDropped_ThenItsIndicesAloneAreDeleted_AndNoAliasMoves()
    {
        var node = NodeThatCreatesGeneration2();
        node.On("DELETE", $"/{Generation2}", """{"acknowledged":true}""");
        var live = await StartedStore(node);

        var abandoned = await live.CreateGenerationAsync("2", null, CancellationToken.None);
        var created = node.Sent.Count;
        await new ElasticsearchReadStoreGenerations(live).DropAsync(abandoned, CancellationToken.None);

        var drop = Assert.Single(node.Sent.Skip(created));
        Assert.Equal(("DELETE", $"/{Generation2}"), (drop.Method, drop.Path));
        // Indices it did not get to create (a rebuild cancelled while creating them) are passed over, not an error.
        Assert.Contains("ignore_unavailable=true", drop.Query);
        Assert.Equal("1", await live.CurrentGenerationAsync(CancellationToken.None));
    }
}
