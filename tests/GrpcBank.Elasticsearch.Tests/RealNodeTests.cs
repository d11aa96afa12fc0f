using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Accounts;
using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

/// <summary>
/// End to end against a real node: runs where GRPCBANK_TEST_ELASTICSEARCH holds its URL (e.g. http://localhost:9200),
/// and says so visibly where it does not. Each run uses its own index prefix and deletes nothing else.
/// </summary>
public sealed class RealNodeTests
{
    private static readonly string? Url = Environment.GetEnvironmentVariable("GRPCBANK_TEST_ELASTICSEARCH");

    private static ElasticsearchReadStore RealStore()
    {
        Assert.SkipWhen(string.IsNullOrWhiteSpace(Url),
            "GRPCBANK_TEST_ELASTICSEARCH is not set: no Elasticsearch node to test against (this machine has no Docker engine). " +
            "Set it to a node's URL to run the real-node suite.");
        return new ElasticsearchReadStore(new Uri(Url!), $"grpcbank-test-{Guid.NewGuid():N}");
    }

    [Fact]
    public async Task GivenABatchApplied_WhenSearched_ThenViewsAreSearchableByPrefixAndTypoAndTheWatermarkIsVisible()
    {
        var store = RealStore();
        var ct = TestContext.Current.CancellationToken;

        await store.ApplyAsync(Batch(), 4, ct);
        await store.ApplyAsync(Batch(), 4, ct); // a redelivery changes nothing

        Assert.Equal(4, await store.AppliedPositionAsync(ct));
        Assert.Equal(10_000, (await store.GetAccountAsync("acc-1", ct))!.BalanceMinor);
        Assert.Equal("acc-1", Assert.Single((await store.SearchAccountsAsync(new AccountSearch("ada lov", null, null, AccountOrder.Relevance, 20, null), ct)).Items).AccountId);
        Assert.Equal("acc-1", Assert.Single((await store.SearchAccountsAsync(new AccountSearch("Lovelase", null, null, AccountOrder.Relevance, 20, null), ct)).Items).AccountId);
        Assert.Empty((await store.SearchAccountsAsync(new AccountSearch("Ada", AccountViewStatus.Frozen, null, AccountOrder.OwnerName, 20, null), ct)).Items);
        Assert.Single((await store.ListTransactionsAsync(new TransactionQuery("acc-1", null, null, 20, null), ct)).Items);
        Assert.Equal("pay-1", Assert.Single((await store.SearchPaymentsAsync(new PaymentSearch(null, "m-1", null, 20, null), ct)).Items).PaymentId);
        Assert.Equal("ord-1", Assert.Single((await store.SearchOrdersAsync(new OrderSearch("engin", null, "acc-1", null, 20, null), ct)).Items).OrderId);
        var summary = await store.SummarizeTransactionsAsync(new SummaryQuery("acc-1", null, null, null, SummaryInterval.Day), ct);
        Assert.Equal(new SummaryBucket(null, 10_000, 1, 0, 0), summary.Totals);
    }

    [Fact]
    public async Task GivenPagesOfAccounts_WhenPagedByOwnerName_ThenEveryAccountComesOnceInOrder()
    {
        var store = RealStore();
        var ct = TestContext.Current.CancellationToken;
        string[] owners = ["Carol", "alice", "Bob", "Dave", "Émile"];
        await store.ApplyAsync(owners.Select((o, i) => Account(i + 1, $"acc-{i}", 1, new AccountEvent.AccountOpened($"acc-{i}", o, "EUR"))).ToList(), owners.Length, ct);

        var seen = new List<string>();
        SortKey? after = null;
        do
        {
            var page = await store.SearchAccountsAsync(new AccountSearch("", null, null, AccountOrder.OwnerName, 2, after), ct);
            seen.AddRange(page.Items.Select(a => a.OwnerName));
            after = page.NextAfter;
        } while (after is not null);

        // As written, by code point, as the embedded and PostgreSQL stores order them (README, "What the Elasticsearch read side promises").
        Assert.Equal(["Bob", "Carol", "Dave", "alice", "Émile"], seen);
    }
}
