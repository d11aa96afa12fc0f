using System.Text.Json.Nodes;
using GrpcBank.Application.ReadSide;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

/// <summary>
/// Page 2 through the real server's gRPC edge, over a node that answers as Elasticsearch does: dates (date_nanos) sort
/// as epoch nanoseconds, here with digits below the millisecond, scores as floats, keywords as written.
/// The page token the edge hands out must come back as exactly the sort values the node gave.
/// </summary>
public sealed class EdgePagingTests
{
    private const string Accounts = "grpcbank-accounts-v3-1";

    private const string Order1 = """{"order_id":"ord-1","customer_account_id":"acc-1","merchant_account_id":"m-1","amount_minor":2500,"currency_code":"EUR","description":"Analytical engine manual","status":"Placed","payment_id":"pay-1","cancellation_reason":"","placed_at":"2025-03-01T09:33:00+00:00","updated_at":"2025-03-01T09:33:00+00:00","version":1}""";
    private const string Payment1 = """{"payment_id":"pay-1","order_id":"ord-1","from_account_id":"acc-1","to_account_id":"m-1","amount_minor":2500,"currency_code":"EUR","status":"Initiated","failure_reason":"","created_at":"2025-03-01T09:34:00+00:00","updated_at":"2025-03-01T09:34:00+00:00","version":1}""";
    private const string Line5 = """{"transaction_id":"t-5","account_id":"acc-1","kind":"Withdrawal","amount_minor":3000,"currency_code":"EUR","balance_after_minor":7000,"occurred_at":"2025-03-01T09:35:00+00:00","reference":"rent","payment_id":"","order_id":"","position":5}""";

    private static string Order2 => Order1.Replace("ord-1", "ord-2").Replace("09:33:00", "09:36:00");
    private static string Payment2 => Payment1.Replace("pay-1", "pay-2").Replace("09:34:00", "09:37:00");
    private static string Line7 => Line5.Replace("t-5", "t-7").Replace("\"position\":5", "\"position\":7");

    /// <summary>The real server in process, relay off, reading from the adapter over <paramref name="node"/>.</summary>
    private static async Task<BankHost> ServerOver(RecordingInvoker node)
    {
        node.On("GET", "/grpcbank-checkpoint/_doc/applied",
            """{"_index":"grpcbank-checkpoint-v3-1","_id":"applied","_version":9,"_seq_no":8,"_primary_term":1,"found":true,"_source":{"position":9,"updated_at":"2025-03-01T10:30:00+00:00"}}""");
        var store = await StartedStore(node);
        var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        host.Get<SwitchableReadStore>().SwitchTo(store);
        return host;
    }

    /// <summary>Two searches went to <paramref name="path"/>: the first without a cursor, the second after exactly <paramref name="sort"/>.</summary>
    private static void AssertPage2WasAskedAfter(RecordingInvoker node, string path, string sort)
    {
        var searches = node.Sent.Where(r => r.Path == path).Select(r => JsonNode.Parse(r.Body)!).ToList();
        Assert.Equal(2, searches.Count);
        Assert.Null(searches[0]["search_after"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(sort), searches[1]["search_after"]),
            $"search_after was {searches[1]["search_after"]?.ToJsonString()}, the node's sort values were {sort}");
    }

    public static TheoryData<string, string, string, string> AccountOrders => new()
    {
        // order_by, query, the node's sort values of acc-1 and of acc-2
        { "relevance", "ada", """[1.3862944,"acc-1"]""", """[0.6931472,"acc-2"]""" },
        { "owner_name", "", """["Ada Lovelace","acc-1"]""", """["Adam Smith","acc-2"]""" },
        { "owner_name desc", "", """["Ada Lovelace","acc-1"]""", """["Adam Smith","acc-2"]""" },
        { "balance_minor", "", """[10000,"acc-1"]""", """[500,"acc-2"]""" },
        { "balance_minor desc", "", """[10000,"acc-1"]""", """[500,"acc-2"]""" },
        { "opened_at", "", """[1740821460000999000,"acc-1"]""", """[1740909600000999000,"acc-2"]""" },
        { "opened_at desc", "", """[1740821460000999000,"acc-1"]""", """[1740909600000999000,"acc-2"]""" },
    };

    [Theory]
    [MemberData(nameof(AccountOrders))]
    public async Task GivenANodesSortValues_WhenAccountsArePagedThroughTheEdge_ThenPage2IsAskedAfterExactlyThoseValues(
        string orderBy, string query, string sort1, string sort2)
    {
        var answer = orderBy == "relevance" ? (Func<long, (string, string, string, string)[], string>)ScoredHits : Hits;
        var node = Node()
            .On("POST", "/grpcbank-accounts/_search", 200, answer(2, [(Accounts, "acc-1", Ada, sort1), (Accounts, "acc-2", Adam, sort2)]), once: true)
            .On("POST", "/grpcbank-accounts/_search", 200, answer(2, [(Accounts, "acc-2", Adam, sort2)]), once: true);
        await using var host = await ServerOver(node);

        var page1 = await host.Query.SearchAccountsAsync(new SearchAccountsRequest { Query = query, OrderBy = orderBy, PageSize = 1 });
        var page2 = await host.Query.SearchAccountsAsync(new SearchAccountsRequest { Query = query, OrderBy = orderBy, PageSize = 1, PageToken = page1.NextPageToken });

        Assert.Equal(["acc-1"], page1.Accounts.Select(a => a.AccountId));
        Assert.Equal(["acc-2"], page2.Accounts.Select(a => a.AccountId));
        Assert.Equal("", page2.NextPageToken);
        AssertPage2WasAskedAfter(node, "/grpcbank-accounts/_search", sort1);
    }

    [Theory]
    [InlineData("orders")]
    [InlineData("payments")]
    public async Task GivenANodesDateSortValues_WhenOrdersOrPaymentsArePagedThroughTheEdge_ThenPage2IsAskedAfterExactlyThoseValues(string view)
    {
        var (id, newer, older, newerSort, olderSort) = view == "orders"
            ? ("ord", Order2, Order1, """[1740821760000999000,"ord-2"]""", """[1740821580000999000,"ord-1"]""")
            : ("pay", Payment2, Payment1, """[1740821820000999000,"pay-2"]""", """[1740821640000999000,"pay-1"]""");
        var (index, path) = ($"grpcbank-{view}-v3-1", $"/grpcbank-{view}/_search");
        var node = Node()
            .On("POST", path, 200, Hits(2, (index, $"{id}-2", newer, newerSort), (index, $"{id}-1", older, olderSort)), once: true)
            .On("POST", path, 200, Hits(2, (index, $"{id}-1", older, olderSort)), once: true);
        await using var host = await ServerOver(node);

        async Task<(IEnumerable<string> Ids, string Next)> Page(string token)
        {
            if (view == "orders")
            {
                var orders = await host.Query.SearchOrdersAsync(new SearchOrdersRequest { PageSize = 1, PageToken = token });
                return (orders.Orders.Select(o => o.OrderId).ToList(), orders.NextPageToken);
            }
            var payments = await host.Query.SearchPaymentsAsync(new SearchPaymentsRequest { PageSize = 1, PageToken = token });
            return (payments.Payments.Select(p => p.PaymentId).ToList(), payments.NextPageToken);
        }

        var page1 = await Page("");
        var page2 = await Page(page1.Next);

        Assert.Equal([$"{id}-2", $"{id}-1"], page1.Ids.Concat(page2.Ids));
        AssertPage2WasAskedAfter(node, path, newerSort);
    }

    [Fact]
    public async Task GivenANodesPositionSortValues_WhenAStatementIsPagedThroughTheEdge_ThenPage2IsAskedAfterThatPosition()
    {
        var node = Node()
            .On("POST", "/grpcbank-accounts/_mget",
                $$"""{"docs":[{"_index":"{{Accounts}}","_id":"acc-1","_version":2,"_seq_no":1,"_primary_term":1,"found":true,"_source":{{Ada}}}]}""")
            .On("POST", "/grpcbank-transactions/_search", 200, Hits(2, ("grpcbank-transactions-v3-1", "t-5", Line5, "[5]"),
                ("grpcbank-transactions-v3-1", "t-7", Line7, "[7]")), once: true)
            .On("POST", "/grpcbank-transactions/_search", 200, Hits(2, ("grpcbank-transactions-v3-1", "t-7", Line7, "[7]")), once: true);
        await using var host = await ServerOver(node);

        var page1 = await host.Query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = "acc-1", PageSize = 1 });
        var page2 = await host.Query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = "acc-1", PageSize = 1, PageToken = page1.NextPageToken });

        Assert.Equal(["t-5", "t-7"], page1.Transactions.Concat(page2.Transactions).Select(t => t.TransactionId));
        AssertPage2WasAskedAfter(node, "/grpcbank-transactions/_search", "[5]");
    }
}
