using System.Text.Json;
using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

public sealed class StartupTests
{
    private static readonly string[] Views = ["accounts", "transactions", "orders", "payments", "checkpoint", "holds"];

    [Fact]
    public async Task GivenAnEmptyCluster_WhenInitialized_ThenEveryIndexIsCreatedWithStrictMappingsBehindItsAlias()
    {
        var node = new RecordingInvoker()
            .On("GET", "/_alias/grpcbank-*", "{}")
            .On("PUT", "/grpcbank-deadletters", """{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-deadletters"}""");
        foreach (var view in Views)
            node.On("PUT", $"/grpcbank-{view}-v3-1", $$"""{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-{{view}}-v3-1"}""");

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

    [Theory]
    [InlineData("v1", "")] // as the release before holds left them
    [InlineData("v1", "grpcbank-holds-v3-1")] // after a start of a release that kept them and added a holds index of its own beside
    [InlineData("v2", "")] // times kept to the millisecond, names sorted folded: answers this release would not give
    public async Task GivenViewsOfAnEarlierSchemaBehindTheAliases_WhenInitialized_ThenAFreshGenerationTakesEveryAliasInOneRequest_AndTheOldViewsGo(
        string schema, string holdsBeside)
    {
        // Views of an earlier schema, generation 1: v1's strict mappings (before holds) refuse this release's documents
        // (an account's held_minor, …), so every write to them would be dead-lettered; v2's views answer time bounds and
        // name orders otherwise than every other store. The node answers what either behaviour asks.
        const string fresh = "20250301103000000"; // the store's clock, T0 + 1 h
        var earlier = Views.Where(v => schema != "v1" || v != "holds").Select(v => $"grpcbank-{v}-{schema}-1").ToArray();
        string[] behind = holdsBeside.Length > 0 ? [.. earlier, holdsBeside] : earlier;
        var aliases = "{" + string.Join(",", behind.Select(i => $"\"{i}\":{{\"aliases\":{{\"grpcbank-{i.Split('-')[1]}\":{{}}}}}}")
            .Append("\"grpcbank-deadletters\":{\"aliases\":{}}")) + "}";
        var retired = string.Join(",", behind);
        var node = Node().On("GET", "/_alias/grpcbank-*", aliases)
            .On("PUT", "/grpcbank-holds-v3-1", """{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-holds-v3-1"}""")
            .On("PUT", $"/{string.Join(",", earlier)}/_settings", """{"acknowledged":true}""")
            .On("PUT", $"/{string.Join(",", earlier)},grpcbank-holds-v3-1/_settings", """{"acknowledged":true}""")
            .On("POST", "/_aliases", """{"acknowledged":true}""")
            .On("DELETE", $"/{retired}", """{"acknowledged":true}""");
        foreach (var view in Views)
            node.On("PUT", $"/grpcbank-{view}-v3-{fresh}", $$"""{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-{{view}}-v3-{{fresh}}"}""");
        var store = Store(node);

        await store.InitializeAsync(CancellationToken.None);

        Assert.Equal(fresh, await store.CurrentGenerationAsync(CancellationToken.None));
        var swap = Assert.Single(node.Sent, r => r.Path == "/_aliases");
        var actions = JsonDocument.Parse(swap.Body).RootElement.GetProperty("actions").EnumerateArray()
            .Select(a => a.EnumerateObject().Single())
            .Select(a => $"{a.Name} {a.Value.GetProperty("alias").GetString()} {a.Value.GetProperty("index").GetString()}")
            .Order(StringComparer.Ordinal);
        var expected = Views
            .Select(view => $"add grpcbank-{view} grpcbank-{view}-v3-{fresh}")
            .Concat(behind.Select(old => $"remove grpcbank-{old.Split('-')[1]} {old}"))
            .Order(StringComparer.Ordinal);
        Assert.Equal(expected, actions);
        // Deleted only after the swap: until then they were what every reader saw.
        Assert.Equal(node.Sent.IndexOf(swap) + 1, node.Sent.FindIndex(r => r.Method == "DELETE" && r.Path == $"/{retired}"));
        Assert.DoesNotContain(node.Sent, r => r.Method == "PUT" && r.Path.Contains($"-{schema}-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GivenAnAliasOnAnIndexNotNamedByAnyRelease_WhenInitialized_ThenItIsNeitherMovedNorDeleted()
    {
        // An index an operator restored under a name of their own: not another release's views, so not ours to delete.
        var node = Node().On("GET", "/_alias/grpcbank-*", """
                {"grpcbank-accounts-restored":{"aliases":{"grpcbank-accounts":{}}},
                 "grpcbank-transactions-v3-1":{"aliases":{"grpcbank-transactions":{}}},
                 "grpcbank-orders-v3-1":{"aliases":{"grpcbank-orders":{}}},
                 "grpcbank-payments-v3-1":{"aliases":{"grpcbank-payments":{}}},
                 "grpcbank-checkpoint-v3-1":{"aliases":{"grpcbank-checkpoint":{}}},
                 "grpcbank-holds-v3-1":{"aliases":{"grpcbank-holds":{}}}}
                """)
            .On("PUT", "/grpcbank-accounts-restored,grpcbank-transactions-v3-1,grpcbank-orders-v3-1,grpcbank-payments-v3-1,grpcbank-checkpoint-v3-1,grpcbank-holds-v3-1/_settings",
                """{"acknowledged":true}""");

        await Store(node).InitializeAsync(CancellationToken.None);

        Assert.DoesNotContain(node.Sent, r => r.Path == "/_aliases" || r.Method == "DELETE");
    }

    [Fact]
    public async Task GivenViewsOfAnEarlierSchema_WhenAnotherServerReplacesThemFirst_ThenItsGenerationServes_AndOursIsDropped()
    {
        const string ours = "20250301103000000";
        var node = Node()
            .On("GET", "/_alias/grpcbank-*", 200, """
                {"grpcbank-accounts-v1-1":{"aliases":{"grpcbank-accounts":{}}},
                 "grpcbank-transactions-v1-1":{"aliases":{"grpcbank-transactions":{}}},
                 "grpcbank-orders-v1-1":{"aliases":{"grpcbank-orders":{}}},
                 "grpcbank-payments-v1-1":{"aliases":{"grpcbank-payments":{}}},
                 "grpcbank-checkpoint-v1-1":{"aliases":{"grpcbank-checkpoint":{}}}}
                """, once: true)
            // The other server's swap came first: the v1 aliases this request removes are gone.
            .On("POST", "/_aliases", 404, """{"error":{"root_cause":[{"type":"aliases_not_found_exception","reason":"aliases [grpcbank-accounts] missing"}],"type":"aliases_not_found_exception","reason":"aliases [grpcbank-accounts] missing"},"status":404}""")
            .On("DELETE", "/" + string.Join(",", Views.Select(v => $"grpcbank-{v}-v3-{ours}")), """{"acknowledged":true}""");
        foreach (var view in Views)
            node.On("PUT", $"/grpcbank-{view}-v3-{ours}", $$"""{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-{{view}}-v3-{{ours}}"}""");
        var store = Store(node); // after the first look, the aliases are generation 1 of this schema (Node())

        await store.InitializeAsync(CancellationToken.None);

        Assert.Equal("1", await store.CurrentGenerationAsync(CancellationToken.None));
        Assert.Equal("DELETE", node.Sent[^1].Method);
        Assert.Contains("ignore_unavailable=true", node.Sent[^1].Query);
        Assert.DoesNotContain(node.Sent, r => r.Method == "DELETE" && r.Path.Contains("-v1-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GivenAnAliasOnTwoIndices_WhenInitialized_ThenItRefusesToGuessWhereToWrite()
    {
        var node = Node().On("GET", "/_alias/grpcbank-*", """
            {"grpcbank-accounts-v3-1":{"aliases":{"grpcbank-accounts":{}}},
             "grpcbank-accounts-v3-2":{"aliases":{"grpcbank-accounts":{}}}}
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
