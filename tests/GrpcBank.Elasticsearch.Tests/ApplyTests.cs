using GrpcBank.Domain.Accounts;
using Microsoft.Extensions.Logging;
using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

public sealed class ApplyTests
{
    private const string Accounts = "grpcbank-accounts-v1-1";
    private const string Transactions = "grpcbank-transactions-v1-1";
    private const string Orders = "grpcbank-orders-v1-1";
    private const string Payments = "grpcbank-payments-v1-1";
    private const string Checkpoint = "grpcbank-checkpoint-v1-1";

    private static RecordingInvoker NodeWithNothingApplied() => Node()
        .On("POST", $"/{Accounts}/_mget", MGetMiss(Accounts, "acc-1"))
        .On("POST", $"/{Orders}/_mget", MGetMiss(Orders, "ord-1"))
        .On("POST", $"/{Payments}/_mget", MGetMiss(Payments, "pay-1"))
        .On("POST", $"/{Transactions},{Accounts},{Orders},{Payments}/_refresh", Refreshed)
        .On("PUT", $"/{Checkpoint}/_doc/applied", 201, Indexed(Checkpoint, "applied", 4));

    [Fact]
    public async Task GivenNewAggregates_WhenABatchIsApplied_ThenOneMGetPerIndexOneBulkWithExternalVersionsARefreshThenTheCheckpoint()
    {
        var node = NodeWithNothingApplied().On("POST", "/_bulk", Bulk(
            BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 201), BulkItem(Accounts, "acc-1", 201),
            BulkItem(Orders, "ord-1", 201), BulkItem(Payments, "pay-1", 201)));
        var store = await StartedStore(node);

        await store.ApplyAsync(Batch(), 4, CancellationToken.None);

        Snapshot.Match(node.Transcript());
    }

    [Fact]
    public async Task GivenAnExistingAccount_WhenMoreEventsArrive_ThenTheProjectionStartsFromTheStoredViewAndOldEventsAreSkipped()
    {
        var node = Node()
            .On("POST", $"/{Accounts}/_mget", """
                {"docs":[{"_index":"grpcbank-accounts-v1-1","_id":"acc-1","_version":2,"_seq_no":1,"_primary_term":1,"found":true,
                  "_source":{"account_id":"acc-1","owner_name":"Ada Lovelace","currency_code":"EUR","balance_minor":10000,"status":"Active",
                             "version":2,"opened_at":"2025-03-01T09:31:00+00:00","updated_at":"2025-03-01T09:32:00+00:00"}}]}
                """)
            .On("POST", "/_bulk", Bulk(BulkItem(Transactions, "00000000-0000-0000-0000-000000000005", 201), BulkItem(Accounts, "acc-1", 201)))
            .On("POST", $"/{Transactions},{Accounts}/_refresh", Refreshed)
            .On("PUT", $"/{Checkpoint}/_doc/applied", 201, Indexed(Checkpoint, "applied", 6));
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
    public async Task GivenMixedBulkItems_WhenApplied_Then409IsApplied429IsRetried400IsDeadLetteredAndOnlyThenTheCheckpointAdvances()
    {
        var logger = new ListLogger();
        var node = NodeWithNothingApplied()
            .On("POST", "/_bulk", 200, Bulk(
                BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 201),
                BulkItem(Accounts, "acc-1", 409, """{"type":"version_conflict_engine_exception","reason":"[acc-1]: version conflict, current version [2] is higher or equal to the one provided [2]","index":"grpcbank-accounts-v1-1"}"""),
                BulkItem(Orders, "ord-1", 429, """{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}"""),
                BulkItem(Payments, "pay-1", 400, """{"type":"document_parsing_exception","reason":"[1:15] failed to parse field [amount_minor] of type [long]","caused_by":{"type":"mapper_parsing_exception","reason":"failed to parse"}}""")),
                once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Orders, "ord-1", 201)), once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem("grpcbank-deadletters", "grpcbank-payments-v1-1:pay-1:1", 201)), once: true);
        var store = await StartedStore(node, logger);

        await store.ApplyAsync(Batch(), 4, CancellationToken.None);

        Snapshot.Match(node.Transcript());
        var error = Assert.Single(logger.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains("grpcbank-payments-v1-1/pay-1", error.Message);
        Assert.Contains("document_parsing_exception", error.Message);
        Assert.Equal(["_mget", "_mget", "_mget", "_bulk", "_bulk", "_bulk", "_refresh", "applied"], node.Sent.Select(r => r.Path.Split('/')[^1]));
    }

    [Fact]
    public async Task GivenAnItemRejectedWith429EveryTime_WhenApplied_ThenItThrowsAfterTheRetriesAndTheCheckpointStaysPut()
    {
        const string unavailable = """{"type":"unavailable_shards_exception","reason":"primary shard is not active"}""";
        var node = NodeWithNothingApplied()
            .On("POST", "/_bulk", 200, Bulk(
                BulkItem(Transactions, "00000000-0000-0000-0000-000000000002", 201), BulkItem(Accounts, "acc-1", 201),
                BulkItem(Orders, "ord-1", 503, unavailable), BulkItem(Payments, "pay-1", 201)), once: true)
            .On("POST", "/_bulk", Bulk(BulkItem(Orders, "ord-1", 503, unavailable)));
        var store = await StartedStore(node);

        await Assert.ThrowsAsync<ElasticsearchReadStoreException>(() => store.ApplyAsync(Batch(), 4, CancellationToken.None));

        Assert.Equal(6, node.Sent.Count(r => r.Path == "/_bulk")); // the first try and five retries
        Assert.DoesNotContain(node.Sent, r => r.Path.EndsWith("/applied", StringComparison.Ordinal));
        // What the first request did write stays unsearchable: views refresh only when we ask, and we did not.
        Assert.DoesNotContain(node.Sent, r => r.Path.EndsWith("/_refresh", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GivenATransferWhoseCreditIsRefusedOnce_WhenApplied_ThenNothingIsRefreshedUntilBothSidesAreIn()
    {
        var node = Node()
            .On("POST", $"/{Accounts}/_mget", """
                {"docs":[
                  {"_index":"grpcbank-accounts-v1-1","_id":"acc-1","_version":2,"found":true,
                   "_source":{"account_id":"acc-1","owner_name":"Ada","currency_code":"EUR","balance_minor":10000,"status":"Active",
                              "version":2,"opened_at":"2025-03-01T09:31:00+00:00","updated_at":"2025-03-01T09:32:00+00:00"}},
                  {"_index":"grpcbank-accounts-v1-1","_id":"acc-2","_version":1,"found":true,
                   "_source":{"account_id":"acc-2","owner_name":"Bob","currency_code":"EUR","balance_minor":0,"status":"Active",
                              "version":1,"opened_at":"2025-03-01T09:33:00+00:00","updated_at":"2025-03-01T09:33:00+00:00"}}]}
                """)
            .On("POST", "/_bulk", 200, Bulk(
                BulkItem(Transactions, "00000000-0000-0000-0000-000000000007", 201), BulkItem(Transactions, "00000000-0000-0000-0000-000000000008", 201),
                BulkItem(Accounts, "acc-1", 201),
                BulkItem(Accounts, "acc-2", 429, """{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}""")),
                once: true)
            .On("POST", "/_bulk", 200, Bulk(BulkItem(Accounts, "acc-2", 201)), once: true)
            .On("POST", $"/{Transactions},{Accounts}/_refresh", Refreshed)
            .On("PUT", $"/{Checkpoint}/_doc/applied", 201, Indexed(Checkpoint, "applied", 8));
        var store = await StartedStore(node);

        // One append: 25.00 leaves acc-1 and arrives in acc-2.
        await store.ApplyAsync(
        [
            Account(7, "acc-1", 3, new AccountEvent.MoneyWithdrawn("acc-1", 2_500, "EUR", "transfer t-1")),
            Account(8, "acc-2", 2, new AccountEvent.MoneyDeposited("acc-2", 2_500, "EUR", "transfer t-1")),
        ], 8, CancellationToken.None);

        Assert.Equal(["_mget", "_bulk", "_bulk", "_refresh", "applied"], node.Sent.Select(r => r.Path.Split('/')[^1]));
        Assert.Contains("\"_id\":\"acc-2\"", node.Sent[2].Body);
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
        var node = Node().On("PUT", $"/{Checkpoint}/_doc/applied", 409,
            """{"error":{"type":"version_conflict_engine_exception","reason":"[applied]: version conflict, current version [9] is higher or equal to the one provided [4]"},"status":409}""");
        var store = await StartedStore(node);

        await store.ApplyAsync([], 4, CancellationToken.None);

        Snapshot.Match(node.Transcript());
    }

    [Fact]
    public async Task GivenACheckpoint_WhenAskedForTheAppliedPosition_ThenItIsReadThroughTheAlias()
    {
        var node = Node().On("GET", "/grpcbank-checkpoint/_doc/applied",
            """{"_index":"grpcbank-checkpoint-v1-1","_id":"applied","_version":42,"_seq_no":3,"_primary_term":1,"found":true,"_source":{"position":42,"updated_at":"2025-03-01T10:30:00+00:00"}}""");
        var store = await StartedStore(node);

        Assert.Equal(42, await store.AppliedPositionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GivenNoCheckpoint_WhenAskedForTheAppliedPosition_ThenItIsZero()
    {
        var node = Node().On("GET", "/grpcbank-checkpoint/_doc/applied", 404,
            """{"_index":"grpcbank-checkpoint-v1-1","_id":"applied","found":false}""");
        var store = await StartedStore(node);

        Assert.Equal(0, await store.AppliedPositionAsync(CancellationToken.None));
    }
}
