using GrpcBank.Application.ReadSide;
using GrpcBank.Postgres;
using GrpcBank.Server.Hosting;
using GrpcBank.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

/// <summary>
/// This release on Elasticsearch views another release made (schema 2), its event store on PostgreSQL. It replaces them
/// with an empty generation, which only a relay starting afterwards refills from the event store: a relay already running
/// (a server of the other release, in a rolling upgrade) would feed the empty views only new events, and every server's
/// read side would have lost all that came before, for good. So while another server holds the relay lease, nothing is
/// replaced and the server refuses to start, as on a PostgreSQL read store (EndToEnd's PostgresReadStoreUpgradeSpecs).
/// </summary>
public sealed class UpgradeGuardTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private static readonly string[] Views = ["accounts", "transactions", "orders", "payments", "checkpoint", "holds"];

    /// <summary>The store's clock (T0 + 1 h): the generation a replacement makes.</summary>
    private const string Fresh = "20250301103000000";

    [Fact]
    public async Task GivenSchema2ViewsBehindTheAliases_WhileAnotherServerRunsTheRelay_TheServerRefusesToStart_AndNothingIsReplaced()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var otherServers = await new PostgresRelayLease(database).AcquireAsync(TestContext.Current.CancellationToken);
        var node = NodeOfSchema2();

        var refused = Assert.Throws<StartupRefusedException>(() =>
            ElasticsearchAtStartUp.Open(Store(node, new PostgresRelayLease(database)), NullLogger.Instance, CancellationToken.None));

        Assert.IsType<ReadStoreInUseException>(refused.InnerException);
        Assert.StartsWith("The read store grpcbank-* (Elasticsearch) serves views of read-store schema 2 (another release's; this one's is 3)",
            refused.Message, StringComparison.Ordinal);
        Assert.Contains("not a rolling upgrade", refused.Message, StringComparison.Ordinal);
        // Only looked (again once the relay was found running): no index made, no alias moved, no index deleted.
        Assert.Equal(["PUT /grpcbank-deadletters", "GET /_alias/grpcbank-*", "GET /_alias/grpcbank-*"], node.Sent.Select(r => $"{r.Method} {r.Path}"));
    }

    [Fact]
    public async Task GivenSchema2ViewsBehindTheAliases_WithNoRelayRunning_AFreshGenerationReplacesThem_AndTheRelayMayStartAfterwards()
    {
        var database = await postgres.CreateDatabaseAsync();
        var node = NodeOfSchema2();
        var store = Store(node, new PostgresRelayLease(database));

        ElasticsearchAtStartUp.Open(store, NullLogger.Instance, CancellationToken.None);

        Assert.Equal(Fresh, await store.CurrentGenerationAsync(CancellationToken.None));
        Assert.Single(node.Sent, r => r.Method == "POST" && r.Path == "/_aliases");
        Assert.Single(node.Sent, r => r.Method == "DELETE" && r.Path == $"/{string.Join(",", Views.Select(v => $"grpcbank-{v}-v2-1"))}");
        // The relay was held off only while the views were replaced: this server's (or any) takes the lease now.
        using var soon = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        soon.CancelAfter(TimeSpan.FromSeconds(10));
        await using var relay = await new PostgresRelayLease(database, pollInterval: TimeSpan.FromMilliseconds(50)).AcquireAsync(soon.Token);
    }

    [Fact]
    public async Task GivenSchema2ViewsBehindTheAliases_WhenThisServersOwnRelaySetsTheStoreUp_TheyAreReplaced()
    {
        // Elasticsearch could not be reached at start-up, so the store is set up at its first use: by this server's relay,
        // which holds the lease and refills the empty views as it starts.
        var database = await postgres.CreateDatabaseAsync();
        var lease = new PostgresRelayLease(database);
        await using var held = await lease.AcquireAsync(TestContext.Current.CancellationToken);
        var node = NodeOfSchema2();
        var store = Store(node, lease);

        await store.InitializeAsync(CancellationToken.None);

        Assert.Equal(Fresh, await store.CurrentGenerationAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GivenSchema2ViewsAtFirstLook_ThatAServerOfThisReleaseReplacedBeforeItsRelayStarted_TheyAreServed_AndTheStartGoesOn()
    {
        // Two servers of this release starting together: the other replaced the views first, and its relay runs by now.
        var database = await postgres.CreateDatabaseAsync();
        await using var otherServers = await new PostgresRelayLease(database).AcquireAsync(TestContext.Current.CancellationToken);
        var node = NodeOfSchema2();
        var aliases = string.Join(",", Views.Select(v => $"\"grpcbank-{v}-v3-7\":{{\"aliases\":{{\"grpcbank-{v}\":{{}}}}}}"));
        node.On("GET", "/_alias/grpcbank-*", "{" + aliases + "}") // after the first look, which the once-rule below answers
            .On("GET", "/_alias/grpcbank-*", 200, AliasesOfSchema2, once: true)
            .On("PUT", $"/{string.Join(",", Views.Select(v => $"grpcbank-{v}-v3-7"))}/_settings", """{"acknowledged":true}""");
        var store = Store(node, new PostgresRelayLease(database));

        ElasticsearchAtStartUp.Open(store, NullLogger.Instance, CancellationToken.None);

        Assert.Equal("7", await store.CurrentGenerationAsync(CancellationToken.None));
        Assert.DoesNotContain(node.Sent, r => r.Path == "/_aliases" || r.Method == "DELETE" || r.Path.Contains($"-v3-{Fresh}", StringComparison.Ordinal));
    }

    private static ElasticsearchReadStore Store(RecordingInvoker node, PostgresRelayLease lease) =>
        new(RecordingInvoker.Client(node),
            new ElasticsearchReadStoreOptions { RetryDelay = TimeSpan.Zero, Time = new FixedTime(T0.AddHours(1)), HoldRelayOff = lease.HoldOffAsync });

    /// <summary>A node whose aliases point at schema-2 views of generation 1 (release 36ff84f's), answering a replacement too.</summary>
    private static readonly string AliasesOfSchema2 =
        "{" + string.Join(",", Views.Select(v => $"\"grpcbank-{v}-v2-1\":{{\"aliases\":{{\"grpcbank-{v}\":{{}}}}}}")
            .Append("\"grpcbank-deadletters\":{\"aliases\":{}}")) + "}";

    private static RecordingInvoker NodeOfSchema2()
    {
        var old = Views.Select(v => $"grpcbank-{v}-v2-1").ToArray();
        var node = new RecordingInvoker()
            .On("GET", "/_alias/grpcbank-*", AliasesOfSchema2)
            .On("PUT", "/grpcbank-deadletters", 400, AlreadyExists("grpcbank-deadletters"))
            .On("PUT", $"/{string.Join(",", old)}/_settings", """{"acknowledged":true}""")
            .On("POST", "/_aliases", """{"acknowledged":true}""")
            .On("DELETE", $"/{string.Join(",", old)}", """{"acknowledged":true}""");
        foreach (var view in Views)
            node.On("PUT", $"/grpcbank-{view}-v3-{Fresh}", $$"""{"acknowledged":true,"shards_acknowledged":true,"index":"grpcbank-{{view}}-v3-{{Fresh}}"}""");
        return node;
    }
}
