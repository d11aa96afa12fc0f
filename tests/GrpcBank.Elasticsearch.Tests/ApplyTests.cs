using GrpcBank.Domain.Accounts;
using Microsoft.Extensions.Logging;
using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

public sealed class ApplyTests
{
    private const string Accounts = "grpcbank-accounts-v3-1";
    private const string Transactions = "grpcbank-transactions-v3-1";
    private const string Orders = "grpcbank-orders-v3-1";
    private const string Payments = "grpcbank-payments-v3-1";
    private const string Checkpoint = "grpcbank-checkpoint-v3-1";

    private static RecordingInvoker NodeWithNothingApplied() => Node()
        .On("POST", "/grpcbank-accounts/_mget", MGetMiss(Accounts, "acc-1"))
        .On("POST", "/grpcbank-orders/_mget", MGetMiss(Orders, "ord-1"))
        .On("POST", "/grpcbank-payments/_mget", MGetMiss(Payments, "pay-1"))
        .On("POST", "/grpcbank-accounts,grpcbank-transactions,grpcbank-orders,grpcbank-payments/_refresh", Refreshed)
        .On("PUT", "/grpcbank-checkpoint/_doc/applied", 201, Indexed(Checkpoint, "applied", 4));

    /// <summary>The line of Batch()'s deposit first, then the views: a node answers each bulk request on its own.</summary>
    private static RecordingInvoker LinesThenViewsApplied(RecordingInvoker node) => node
        .On("POST", "/_bulk", 200, Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 201)), once: true)
        .On("POST", "/_bulk", 200, Bulk(BulkItem(Accounts, "acc-1", 201), BulkItem(Orders, "ord-1", 201), BulkItem(Payments, "pay-1", 201)), once: true);

    [Fact]
    public async Task GivenNewAggregates_WhenABatchIsApplied_ThenOneMGetPerAliasTheLinesThenTheViewsOneRefreshThenTheCheckpoint()
    {
        var node = LinesThenViewsApplied(NodeWithNothingApplied());
        var store = await StartedStore(node);

        await store.ApplyAsync(Batch(), 4, CancellationToken.None);

        Snapshot.Match(node.Transcript());
        Assert.Equal(["_mget", "_mget", "_mget", "_bulk", "_bulk", "_refresh", "applied"], node.Sent.Select(r => r.Path.Split('/')[^1]));
    }

    [Fact]
    public async Task GivenLineItemsRefusedWith429UntilTheRetriesRunOut_WhenTheBatchIsRedelivered_ThenNoViewMovedAheadOfItsLineAndTheLineIsWritten()
    {
        const string rejected = """{"type":"es_rejected_execution_exception","reason":"rejected execution of org.elasticsearch.action.bulk.TransportShardBulkAction on EsThreadPoolExecutor[name = node-1/write, queue capacity = 10000]"}""";
        var node = NodeWithNothingApplied()
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 429, rejected)), once: true);
        for (var retry = 0; retry < 5; retry++)
            node.On("POST", "/_bulk", 200, Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 429, rejected)), once: true);
        var store = await StartedStore(node);

        // The relay's first delivery fails (the server may even stop here, between retries)...
        await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => store.ApplyAsync(Batch(), 4, CancellationToken.None));
        Assert.DoesNotContain(node.Sent, r => r.Path == "/_bulk" && r.Body.Contains("\"account_id\":\"acc-1\",\"owner_name\""));
        Assert.DoesNotContain(node.Sent, r => r.Path.EndsWith("/applied", StringComparison.Ordinal));

        // ...and its redelivery finds the view where it was, so it derives the line again and writes it before the view.
        node.Sent.Clear();
        LinesThenViewsApplied(node);
        await store.ApplyAsync(Batch(), 4, CancellationToken.None);

        var bulks = node.Sent.Where(r => r.Path == "/_bulk").ToList();
        Assert.Contains("\"kind\":\"Deposit\"", bulks[0].Body);
        Assert.Contains("\"owner_name\":\"Ada Lovelace\"", bulks[1].Body);
        Assert.EndsWith("/applied", node.Sent[^1].Path);
    }

    [Fact]
    public async Task GivenARedeliveredBatchWhoseEventsAreAllApplied_WhenApplied_ThenTheirViewsAreRefreshedBeforeTheWatermark()
    {
        var node = Node()
            .On("POST", "/grpcbank-accounts/_mget", $$"""{"docs":[{"_index":"{{Accounts}}","_id":"acc-1","_version":2,"_seq_no":1,"_primary_term":1,"found":true,"_source":{{Ada}}}]}""")
            .On("POST", "/grpcbank-orders/_mget", $$$"""{"docs":[{"_index":"{{{Orders}}}","_id":"ord-1","_version":1,"_seq_no":0,"_primary_term":1,"found":true,"_source":{"order_id":"ord-1","customer_account_id":"acc-1","merchant_account_id":"m-1","amount_minor":2500,"currency_code":"EUR","description":"Analytical engine manual","status":"Placed","payment_id":"pay-1","cancellation_reason":"","placed_at":"2025-03-01T09:33:00+00:00","updated_at":"2025-03-01T09:33:00+00:00","version":1}}]}""")
            .On("POST", "/grpcbank-payments/_mget", $$$"""{"docs":[{"_index":"{{{Payments}}}","_id":"pay-1","_version":1,"_seq_no":0,"_primary_term":1,"found":true,"_source":{"payment_id":"pay-1","order_id":"ord-1","from_account_id":"acc-1","to_account_id":"m-1","amount_minor":2500,"currency_code":"EUR","status":"Initiated","failure_reason":"","created_at":"2025-03-01T09:34:00+00:00","updated_at":"2025-03-01T09:34:00+00:00","version":1}}]}""")
            .On("POST", "/grpcbank-accounts,grpcbank-transactions,grpcbank-orders,grpcbank-payments/_refresh", Refreshed)
            .On("PUT", "/grpcbank-checkpoint/_doc/applied", 201, Indexed(Checkpoint, "applied", 4));
        var store = await StartedStore(node);

        // The first delivery wrote everything, but its wait for a refresh was cut short before the watermark.
        await store.ApplyAsync(Batch(), 4, CancellationToken.None);

        Assert.Equal(["_mget", "_mget", "_mget", "_refresh", "applied"], node.Sent.Select(r => r.Path.Split('/')[^1]));
    }

    [Fact]
    public async Task GivenAnotherServerRebuiltAndMovedTheAliases_WhenThisOneApplies_ThenEveryWriteGoesThroughAnAliasThatMustExist()
    {
        // This store resolved generation 1 at start-up; since then another server switched every alias to generation 2.
        var node = LinesThenViewsApplied(NodeWithNothingApplied());
        var store = await StartedStore(node);

        await store.ApplyAsync(Batch(), 4, CancellationToken.None);

        var writes = node.Sent.Where(r => r.Path == "/_bulk").SelectMany(r => r.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            .Select(line => System.Text.Json.Nodes.JsonNode.Parse(line)!["index"]?["_index"]?.GetValue<string>()).OfType<string>().ToList();
        Assert.Equal(["grpcbank-transactions", "grpcbank-accounts", "grpcbank-orders", "grpcbank-payments"], writes);
        Assert.All(node.Sent.Where(r => r.Path == "/_bulk"), r => Assert.Contains("require_alias=true", r.Query));
        var checkpoint = Assert.Single(node.Sent, r => r.Method == "PUT");
        Assert.Equal("/grpcbank-checkpoint/_doc/applied", checkpoint.Path);
        Assert.Contains("require_alias=true", checkpoint.Query);
    }

    [Fact]
    public async Task GivenTheAliasIsGone_WhenBulkItemsAre404_ThenTheBatchFailsWithoutDeadLettersOrWatermark()
    {
        static string Missing(string alias) =>
            $$"""{"type":"index_not_found_exception","reason":"no such index [{{alias}}] and [require_alias] request flag is [true] and [{{alias}}] is not an alias","index_uuid":"_na_","index":"{{alias}}"}""";
        var node = NodeWithNothingApplied().On("POST", "/_bulk", Bulk(
            BulkItem("grpcbank-transactions", "00000000-0000-0000-0000-000000000002", 404, Missing("grpcbank-transactions"))));
        var store = await StartedStore(node);

        var error = await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => store.ApplyAsync(Batch(), 4, CancellationToken.None));

        Assert.Contains("index_not_found_exception", error.Message);
        Assert.Single(node.Sent, r => r.Path == "/_bulk");
        Assert.DoesNotContain(node.Sent, r => r.Path.EndsWith("/applied", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GivenMissingIndices_WhenAViewOrTheWatermarkIsRead_ThenItIsAnErrorNotAnAbsence()
    {
        static string Missing(string index) =>
            $$"""{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [{{index}}]","resource.type":"index_or_alias","resource.id":"{{index}}","index_uuid":"_na_","index":"{{index}}"}],"type":"index_not_found_exception","reason":"no such index [{{index}}]","resource.type":"index_or_alias","resource.id":"{{index}}","index_uuid":"_na_","index":"{{index}}"},"status":404}""";
        var node = Node()
            .On("GET", "/grpcbank-accounts/_doc/acc-1", 404, Missing("grpcbank-accounts"))
            .On("POST", "/grpcbank-accounts/_mget", 404, Missing("grpcbank-accounts"))
            .On("GET", "/grpcbank-checkpoint/_doc/applied", 404, Missing("grpcbank-checkpoint"));
        var store = await StartedStore(node);

        await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => store.GetAccountAsync("acc-1", CancellationToken.None));
        await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => store.AppliedPositionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GivenAnExistingAccount_WhenMoreEventsArrive_ThenTheProjectionStartsFromTheStoredViewAndOldEventsAreSkipped()
    {
        var node = Node()
            .On("POST", "/grpcbank-accounts/_mget", $$"""{"docs":[{"_index":"{{Accounts}}","_id":"acc-1","_version":2,"_seq_no":1,"_primary_term":1,"found":true,"_source":{{Ada}}}]}""")
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000005", 201)), once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Accounts, "acc-1", 201)), once: true)
            .On("POST", "/grpcbank-accounts,grpcbank-transactions/_refresh", Refreshed)
            .On("PUT", "/grpcbank-checkpoint/_doc/applied", 201, Indexed(Checkpoint, "applied", 6));
        var store = await StartedStore(node);

        await store.ApplyAsync(
        [
            Account(2, "acc-1", 2, new AccountEvent.MoneyDeposited("acc-1", 10_000, "EUR", "salary")), // redelivered: already in the view
            Account(5, "acc-1", 3, new AccountEvent.MoneyWithdrawn("acc-1", 3_000, "EUR", "rent")),
            Account(6, "acc-1", 4, new AccountEvent.AccountFrozen("acc-1", "audit")),
        ], 6, CancellationToken.None);

        Snapshot.Match(node.Transcript());
    }

    [Fact]
    public async Task GivenAHoldPlacedInAnEarlierBatch_WhenItIsCaptured_ThenTheHoldIsReadAndWrittenWithTheLineBeforeTheAccountMoves()
    {
        const string held = """{"account_id":"acc-1","owner_name":"Ada Lovelace","currency_code":"EUR","balance_minor":10000,"status":"Active","version":3,"opened_at":"2025-03-01T09:31:00+00:00","updated_at":"2025-03-01T09:33:00+00:00","held_minor":4000,"overdraft_limit_minor":0,"debits_blocked":false,"credits_blocked":false}""";
        const string hold = """{"account_id":"acc-1","hold_id":"auth-1","amount_minor":4000,"captured_minor":0,"currency_code":"EUR","status":"Active","reference":"card","expires_at":"2025-03-02T09:33:00+00:00","placed_at":"2025-03-01T09:33:00+00:00","updated_at":"2025-03-01T09:33:00+00:00","position":3}""";
        var node = Node()
            .On("POST", "/grpcbank-accounts/_mget", $$"""{"docs":[{"_index":"{{Accounts}}","_id":"acc-1","_version":3,"_seq_no":2,"_primary_term":1,"found":true,"_source":{{held}}}]}""")
            .On("POST", "/grpcbank-holds/_mget", $$"""{"docs":[{"_index":"grpcbank-holds-v3-1","_id":"acc-1/auth-1","_version":3,"_seq_no":0,"_primary_term":1,"found":true,"_source":{{hold}}}]}""")
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000004", 201), BulkItem("grpcbank-holds-v3-1", "acc-1/auth-1", 200)), once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Accounts, "acc-1", 200)), once: true)
            .On("POST", "/grpcbank-accounts,grpcbank-transactions,grpcbank-holds/_refresh", Refreshed)
            .On("PUT", "/grpcbank-checkpoint/_doc/applied", 201, Indexed(Checkpoint, "applied", 4));
        var store = await StartedStore(node);

        await store.ApplyAsync([Account(4, "acc-1", 4, new AccountEvent.HoldCaptured("acc-1", "auth-1", 2_500, 1_500, "EUR", "shipped", "", ""))],
            4, CancellationToken.None);

        Snapshot.Match(node.Transcript());
    }

    [Fact]
    public async Task GivenMixedBulkItems_WhenApplied_Then409IsApplied429IsRetried400IsDeadLetteredAndOnlyThenTheCheckpointAdvances()
    {
        var logger = new ListLogger();
        var node = NodeWithNothingApplied()
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 201)), once: true)
            .On("POST", "/_bulk", 200, Bulk(
                BulkItem(Accounts, "acc-1", 409, """{"type":"version_conflict_engine_exception","reason":"[acc-1]: version conflict, current version [2] is higher or equal to the one provided [2]","index_uuid":"aBcDeFgHiJkLmNoPqRsTuV","shard":"0","index":"grpcbank-accounts-v3-1"}"""),
                BulkItem(Orders, "ord-1", 429, """{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=104857600]"}"""),
                BulkItem(Payments, "pay-1", 400, """{"type":"document_parsing_exception","reason":"[1:15] failed to parse field [amount_minor] of type [long] in document with id 'pay-1'. Preview of field's value: 'x'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"x\""}}""")),
                once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Orders, "ord-1", 201)), once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem("grpcbank-deadletters", "grpcbank-payments:pay-1:1", 201)), once: true);
        var store = await StartedStore(node, logger);

        await store.ApplyAsync(Batch(), 4, CancellationToken.None);

        Snapshot.Match(node.Transcript());
        var error = Assert.Single(logger.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("grpcbank-payments/pay-1", error.Message);
        Assert.Contains("document_parsing_exception", error.Message);
        Assert.Equal(["_mget", "_mget", "_mget", "_bulk", "_bulk", "_bulk", "_bulk", "_refresh", "applied"], node.Sent.Select(r => r.Path.Split('/')[^1]));
    }

    [Fact]
    public async Task GivenAnItemRejectedWith429EveryTime_WhenApplied_ThenItThrowsAfterTheRetriesAndTheCheckpointStaysPut()
    {
        const string unavailable = """{"type":"unavailable_shards_exception","reason":"[grpcbank-orders-v3-1][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[grpcbank-orders-v3-1][0]] containing [1] requests]"}""";
        var node = NodeWithNothingApplied()
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 201)), once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Accounts, "acc-1", 201), BulkItem(Orders, "ord-1", 503, unavailable), BulkItem(Payments, "pay-1", 201)), once: true)
            .On("POST", "/_bulk", Bulk(BulkItem(Orders, "ord-1", 503, unavailable)));
        var store = await StartedStore(node);

        await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => store.ApplyAsync(Batch(), 4, CancellationToken.None));

        Assert.Equal(1 + 6, node.Sent.Count(r => r.Path == "/_bulk")); // the lines, then the views: the first try and five retries
        Assert.DoesNotContain(node.Sent, r => r.Path.EndsWith("/applied", StringComparison.Ordinal));
        // What the first request did write stays unsearchable: views refresh only when we ask, and we did not.
        Assert.DoesNotContain(node.Sent, r => r.Path.EndsWith("/_refresh", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GivenATransferWhoseCreditIsRefusedOnce_WhenApplied_ThenNothingIsRefreshedUntilBothSidesAreIn()
    {
        var node = Node()
            .On("POST", "/grpcbank-accounts/_mget", """
                {"docs":[
                  {"_index":"grpcbank-accounts-v3-1","_id":"acc-1","_version":2,"_seq_no":1,"_primary_term":1,"found":true,
                   "_source":{"account_id":"acc-1","owner_name":"Ada","currency_code":"EUR","balance_minor":10000,"status":"Active",
                              "version":2,"opened_at":"2025-03-01T09:31:00+00:00","updated_at":"2025-03-01T09:32:00+00:00"}},
                  {"_index":"grpcbank-accounts-v3-1","_id":"acc-2","_version":1,"_seq_no":2,"_primary_term":1,"found":true,
                   "_source":{"account_id":"acc-2","owner_name":"Bob","currency_code":"EUR","balance_minor":0,"status":"Active",
                              "version":1,"opened_at":"2025-03-01T09:33:00+00:00","updated_at":"2025-03-01T09:33:00+00:00"}}]}
                """)
            .On("POST", "/_bulk", 200, Bulk(
                BulkItem(Transactions, "00000000-0000-0000-0000-000000000007", 201), BulkItem(Transactions, "00000000-0000-0000-0000-000000000008", 201)),
                once: true)
            .On("POST", "/_bulk", 200, Bulk(
                BulkItem(Accounts, "acc-1", 201),
                BulkItem(Accounts, "acc-2", 429, """{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}""")),
                once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Accounts, "acc-2", 201)), once: true)
            .On("POST", "/grpcbank-accounts,grpcbank-transactions/_refresh", Refreshed)
            .On("PUT", "/grpcbank-checkpoint/_doc/applied", 201, Indexed(Checkpoint, "applied", 8));
        var store = await StartedStore(node);

        // One append: 25.00 leaves acc-1 and arrives in acc-2.
        await store.ApplyAsync(
        [
            Account(7, "acc-1", 3, new AccountEvent.MoneyWithdrawn("acc-1", 2_500, "EUR", "transfer t-1")),
            Account(8, "acc-2", 2, new AccountEvent.MoneyDeposited("acc-2", 2_500, "EUR", "transfer t-1")),
        ], 8, CancellationToken.None);

        Assert.Equal(["_mget", "_bulk", "_bulk", "_bulk", "_refresh", "applied"], node.Sent.Select(r => r.Path.Split('/')[^1]));
        Assert.Contains("\"_id\":\"acc-2\"", node.Sent[3].Body);
    }

    [Fact]
    public async Task GivenTheBulkRequestItselfFails_WhenApplied_ThenItThrowsBeforeTheCheckpoint()
    {
        var node = NodeWithNothingApplied().On("POST", "/_bulk", 400,
            """{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Malformed action/metadata line [1]"}],"type":"illegal_argument_exception","reason":"Malformed action/metadata line [1]"},"status":400}""");
        var store = await StartedStore(node);

        var error = await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => store.ApplyAsync(Batch(), 4, CancellationToken.None));

        Assert.Contains("illegal_argument_exception", error.Message);
        Assert.DoesNotContain(node.Sent, r => r.Path.EndsWith("/applied", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GivenANewerCheckpoint_WhenAnOlderWatermarkIsWritten_ThenThe409IsFine()
    {
        var node = Node().On("PUT", "/grpcbank-checkpoint/_doc/applied", 409,
            """{"error":{"type":"version_conflict_engine_exception","reason":"[applied]: version conflict, current version [9] is higher or equal to the one provided [4]"},"status":409}""");
        var store = await StartedStore(node);

        await store.ApplyAsync([], 4, CancellationToken.None);

        Snapshot.Match(node.Transcript());
    }

    [Fact]
    public async Task GivenACheckpoint_WhenAskedForTheAppliedPosition_ThenItIsReadThroughTheAlias()
    {
        var node = Node().On("GET", "/grpcbank-checkpoint/_doc/applied",
            """{"_index":"grpcbank-checkpoint-v3-1","_id":"applied","_version":42,"_seq_no":3,"_primary_term":1,"found":true,"_source":{"position":42,"updated_at":"2025-03-01T10:30:00+00:00"}}""");
        var store = await StartedStore(node);

        Assert.Equal(42, await store.AppliedPositionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GivenNoCheckpoint_WhenAskedForTheAppliedPosition_ThenItIsZero()
    {
        var node = Node().On("GET", "/grpcbank-checkpoint/_doc/applied", 404,
            """{"_index":"grpcbank-checkpoint-v3-1","_id":"applied","found":false}""");
        var store = await StartedStore(node);

        Assert.Equal(0, await store.AppliedPositionAsync(CancellationToken.None));
    }
}
