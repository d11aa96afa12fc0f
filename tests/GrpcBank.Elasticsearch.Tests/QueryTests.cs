using System.Text.Json.Nodes;
using Snapshooter;
using GrpcBank.Application.ReadSide;
using static GrpcBank.Elasticsearch.Tests.Fixture;

namespace GrpcBank.Elasticsearch.Tests;

public sealed class QueryTests
{
    [Fact]
    public async Task GivenAnAccount_WhenGotById_ThenItIsReadThroughTheAlias()
    {
        var node = Node().On("POST", "/grpcbank-accounts/_mget",
            $$"""{"docs":[{"_index":"grpcbank-accounts-v3-1","_id":"acc-1","_version":2,"_seq_no":1,"_primary_term":1,"found":true,"_source":{{Ada}}}]}""");
        var store = await StartedStore(node);

        var account = await store.GetAccountAsync("acc-1", CancellationToken.None);

        Assert.Equal(new AccountView("acc-1", "Ada Lovelace", "EUR", 10_000, AccountViewStatus.Active, 2,
            T0.AddMinutes(1), T0.AddMinutes(2)), account);
    }

    [Fact]
    public async Task GivenNoSuchOrderOrPayment_WhenGotById_ThenNull()
    {
        var node = Node()
            .On("POST", "/grpcbank-orders/_mget", MGetMiss("grpcbank-orders-v3-1", "ord-9"))
            .On("POST", "/grpcbank-payments/_mget", MGetMiss("grpcbank-payments-v3-1", "pay-9"));
        var store = await StartedStore(node);

        Assert.Null(await store.GetOrderAsync("ord-9", CancellationToken.None));
        Assert.Null(await store.GetPaymentAsync("pay-9", CancellationToken.None));
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    public async Task GivenAccountIdsThatLookLikePathSegments_WhenGot_ThenTheIdTravelsInTheBodyAndTheAccountIsFound(string id)
    {
        var node = Node().On("POST", "/grpcbank-accounts/_mget",
            $$"""{"docs":[{"_index":"grpcbank-accounts-v3-1","_id":"{{id}}","_version":2,"_seq_no":1,"_primary_term":1,"found":true,"_source":{{Ada.Replace("\"acc-1\"", $"\"{id}\"")}}}]}""");
        var store = await StartedStore(node);

        var account = await store.GetAccountAsync(id, CancellationToken.None);

        Assert.Equal(id, account?.AccountId);
        var request = Assert.Single(node.Sent);
        Assert.Equal("/grpcbank-accounts/_mget", request.Path);
        Assert.Equal($$"""{"ids":["{{id}}"]}""", request.Body);
    }

    [Theory]
    [InlineData("marg", "owner_name")]
    [InlineData("read lam", "description")]
    public async Task GivenTextToSearch_WhenSearched_ThenEveryWordIsARequiredPrefixNotAPhrasePrefixCappedAt50Terms(string text, string field)
    {
        var node = Node().On("POST", "/grpcbank-accounts/_search", Hits(0)).On("POST", "/grpcbank-orders/_search", Hits(0));
        var store = await StartedStore(node);

        if (field == "owner_name") await store.SearchAccountsAsync(new AccountSearch(text, null, null, AccountOrder.Relevance, 10, null), CancellationToken.None);
        else await store.SearchOrdersAsync(new OrderSearch(text, null, null, null, 10, null), CancellationToken.None);

        var body = Assert.Single(node.Sent).Body;
        Assert.DoesNotContain("match_phrase_prefix", body);
        var words = text.Split(' ');
        Assert.Equal(words.Length, System.Text.RegularExpressions.Regex.Count(body, "match_bool_prefix"));
        foreach (var word in words) Assert.Contains("{\"match_bool_prefix\":{\"" + field + "\":{\"query\":\"" + word + "\"}}}", body);
    }

    /// <summary>
    /// The embedded store's words are runs of letters and digits (<c>unicode61</c>): "O'Neil" is "o" and "neil", and
    /// "engine-manual" needs both words. Elasticsearch's standard tokenizer kept "o'neil" whole (a search for "neil"
    /// missed it), and a whitespace-cut "engine-manual" became a match_bool_prefix that any one of its words satisfied.
    /// </summary>
    [Fact]
    public async Task GivenWordsJoinedByPunctuation_WhenSearched_ThenTheyAreTheEmbeddedStoresWords_EachRequired_AndTheIndexCutsTextAlike()
    {
        var node = Node().On("POST", "/grpcbank-orders/_search", Hits(0));
        var store = await StartedStore(node);

        await store.SearchOrdersAsync(new OrderSearch("O'Neil engine-manual", null, null, null, 10, null), CancellationToken.None);

        var must = JsonNode.Parse(Assert.Single(node.Sent).Body)!["query"]!["bool"]!["must"]!.AsArray();
        Assert.Equal(["o", "neil", "engine", "manual"], must.Select(m => (string)m!["match_bool_prefix"]!["description"]!["query"]!));
        var analysis = JsonNode.Parse(new IndexLayout("grpcbank", "1").CreateBody(ViewIndex.Orders, withAlias: false))!["settings"]!["analysis"]!;
        var analyzer = analysis["analyzer"]!["name_text"]!;
        Assert.Equal("[^\\p{L}\\p{Nd}]+", (string?)analysis["tokenizer"]![(string)analyzer["tokenizer"]!]!["pattern"]);
        Assert.Equal("\\p{M}+", (string?)analysis["char_filter"]![(string)analyzer["char_filter"]![0]!]!["pattern"]);
    }

    [Fact]
    public async Task GivenARelevanceSearch_WhenSent_ThenEachWordScoresAConstantByItsEdits_SoNoOtherAccountMovesAScoreBetweenPages()
    {
        var node = Node().On("POST", "/grpcbank-accounts/_search", Hits(0));
        var store = await StartedStore(node);

        await store.SearchAccountsAsync(new AccountSearch("al ada Lovelace", null, null, AccountOrder.Relevance, 10, null), CancellationToken.None);

        var query = JsonNode.Parse(Assert.Single(node.Sent).Body)!["query"]!;
        // Each word: a dis_max of constant scores, 3 for a prefix, 3 less the edits for a typo and half a point less
        // again for one in the first letter; the edits the embedded store allows (none under 3 letters, 1 up to 4, 2 from 5).
        Assert.Equal(
            [
                [("match_bool_prefix", "al", null, null, 3f)],
                [("match_bool_prefix", "ada", null, null, 3f), ("match", "ada", "1", 1, 2f), ("match", "ada", "1", null, 1.5f)],
                [
                    ("match_bool_prefix", "lovelace", null, null, 3f), ("match", "lovelace", "1", 1, 2f), ("match", "lovelace", "1", null, 1.5f),
                    ("match", "lovelace", "2", 1, 1f), ("match", "lovelace", "2", null, 0.5f),
                ],
            ],
            query["bool"]!["must"]!.AsArray().Select(word => word!["dis_max"]!["queries"]!.AsArray().Select(Clause).ToList()).ToList());
        // Nothing else scores: BM25 would weigh each name against every other account in the index.
        Assert.Equal(9, System.Text.RegularExpressions.Regex.Count(query.ToJsonString(), "constant_score"));

        static (string, string, string?, int?, float) Clause(JsonNode? clause)
        {
            var constant = clause!["constant_score"]!;
            var (kind, match) = constant["filter"]!.AsObject().Single();
            var field = match!["owner_name"]!;
            return (kind, (string)field["query"]!, (string?)field["fuzziness"], (int?)field["prefix_length"], (float)constant["boost"]!);
        }
    }

    public static TheoryData<string, AccountSearch> AccountSearches => new()
    {
        { "TextByRelevance", new AccountSearch("ada lov", null, null, AccountOrder.Relevance, 20, null) },
        { "TextByRelevanceNextPage", new AccountSearch("ada", null, null, AccountOrder.Relevance, 20, new SortKey("1.3862944", "acc-1")) },
        { "FilteredByOwnerName", new AccountSearch("", AccountViewStatus.Frozen, "EUR", AccountOrder.OwnerName, 10, null) },
        { "ByOwnerNameDescNextPage", new AccountSearch("", null, null, AccountOrder.OwnerNameDesc, 10, new SortKey("Ada Lovelace", "acc-1")) },
        { "ByBalance", new AccountSearch("", null, "GBP", AccountOrder.BalanceMinor, 5, new SortKey("500", "acc-2")) },
        { "ByBalanceDesc", new AccountSearch("smith", AccountViewStatus.Active, null, AccountOrder.BalanceMinorDesc, 5, null) },
        { "ByOpenedAt", new AccountSearch("", null, null, AccountOrder.OpenedAt, 2, new SortKey("2025-03-02T10:00:00.000000Z", "acc-2")) },
        { "ByOpenedAtDesc", new AccountSearch("", AccountViewStatus.Closed, null, AccountOrder.OpenedAtDesc, 100, null) },
    };

    [Theory]
    [MemberData(nameof(AccountSearches))]
    public async Task WhenAccountsAreSearched_ThenTheRequestIsABoolQueryWithFiltersSortTieBreakerAndSearchAfter(string name, AccountSearch search)
    {
        var node = Node().On("POST", "/grpcbank-accounts/_search", Hits(0));
        var store = await StartedStore(node);

        await store.SearchAccountsAsync(search, CancellationToken.None);

        Snapshot.Match(node.Transcript(), new SnapshotNameExtension(name));
    }

    /// <summary>
    /// The embedded and PostgreSQL stores order owner names as written, by code point: "Zed" before "ada", "Zoe Saldana"
    /// before "Zoë Kravitz". A lower-casing, accent-folding normalizer on the sorted keyword turned both round.
    /// </summary>
    [Theory]
    [InlineData(AccountOrder.OwnerName, "asc")]
    [InlineData(AccountOrder.OwnerNameDesc, "desc")]
    public async Task WhenAccountsAreOrderedByOwnerName_ThenTheyAreSortedOnTheNameAsWritten_NotANormalizedForm(AccountOrder order, string direction)
    {
        var node = Node().On("POST", "/grpcbank-accounts/_search", Hits(0));
        var store = await StartedStore(node);

        await store.SearchAccountsAsync(new AccountSearch("", null, null, order, 10, null), CancellationToken.None);

        var sort = JsonNode.Parse(Assert.Single(node.Sent).Body)!["sort"]![0]!.AsObject().Single();
        Assert.Equal(("owner_name.keyword", direction), (sort.Key, (string?)sort.Value!["order"]));
        var mapping = JsonNode.Parse(new IndexLayout("grpcbank", "1").CreateBody(ViewIndex.Accounts, withAlias: false))!;
        var keyword = mapping["mappings"]!["properties"]!["owner_name"]!["fields"]!["keyword"]!;
        Assert.Equal("keyword", (string?)keyword["type"]);
        Assert.Null(keyword["normalizer"]);
    }

    [Fact]
    public async Task GivenMoreHitsThanAPage_WhenAccountsAreSearched_ThenTheLastKeptHitsSortValuesAreTheNextKey()
    {
        var node = Node().On("POST", "/grpcbank-accounts/_search", Hits(3,
            ("grpcbank-accounts-v3-1", "acc-1", Ada, """["Ada Lovelace","acc-1"]"""),
            ("grpcbank-accounts-v3-1", "acc-2", Adam, """["Adam Smith","acc-2"]"""),
            ("grpcbank-accounts-v3-1", "acc-3", Adam.Replace("acc-2", "acc-3"), """["Adam Smith","acc-3"]""")));
        var store = await StartedStore(node);

        var page = await store.SearchAccountsAsync(new AccountSearch("", null, null, AccountOrder.OwnerName, 2, null), CancellationToken.None);

        Assert.Equal(["acc-1", "acc-2"], page.Items.Select(a => a.AccountId));
        Assert.Equal(new SortKey("Adam Smith", "acc-2"), page.NextAfter);
        Assert.Equal(3, page.TotalSize);
    }

    [Fact]
    public async Task GivenRelevanceAndDateSorts_WhenTheLastPageIsRead_ThenNoNextKeyAndNumericSortValuesRoundTrip()
    {
        var node = Node().On("POST", "/grpcbank-accounts/_search", Hits(3,
            ("grpcbank-accounts-v3-1", "acc-1", Ada, """[1.3862944,"acc-1"]"""),
            ("grpcbank-accounts-v3-1", "acc-2", Adam, """[0.6931472,"acc-2"]""")));
        var store = await StartedStore(node);

        var last = await store.SearchAccountsAsync(new AccountSearch("ada", null, null, AccountOrder.Relevance, 2, null), CancellationToken.None);
        Assert.Null(last.NextAfter);

        node.On("POST", "/grpcbank-accounts/_search", Hits(3,
            ("grpcbank-accounts-v3-1", "acc-1", Ada, """[1740821460000999000,"acc-1"]"""),
            ("grpcbank-accounts-v3-1", "acc-2", Adam, """[1740909600000000000,"acc-2"]""")));
        var byDate = await store.SearchAccountsAsync(new AccountSearch("", null, null, AccountOrder.OpenedAt, 1, null), CancellationToken.None);
        Assert.Equal(new SortKey("2025-03-01T09:31:00.000999Z", "acc-1"), byDate.NextAfter);
    }

    [Fact]
    public async Task WhenAStatementPageIsListed_ThenItFiltersByAccountAndTimeAndPagesByPosition()
    {
        var line = """{"transaction_id":"t-5","account_id":"acc-1","kind":"Withdrawal","amount_minor":3000,"currency_code":"EUR","balance_after_minor":7000,"occurred_at":"2025-03-01T09:35:00+00:00","reference":"rent","payment_id":"","order_id":"","position":5}""";
        var node = Node().On("POST", "/grpcbank-transactions/_search", Hits(2,
            ("grpcbank-transactions-v3-1", "t-5", line, "[5]"),
            ("grpcbank-transactions-v3-1", "t-7", line.Replace("t-5", "t-7").Replace("\"position\":5", "\"position\":7"), "[7]")));
        var store = await StartedStore(node);

        var page = await store.ListTransactionsAsync(
            new TransactionQuery("acc-1", T0, T0.AddDays(1), 1, new SortKey("2", "t-2")), CancellationToken.None);

        Snapshot.Match(node.Transcript());
        Assert.Equal(new TransactionView("t-5", "acc-1", TransactionKind.Withdrawal, 3_000, "EUR", 7_000, T0.AddMinutes(5), "rent", "", "", 5),
            Assert.Single(page.Items));
        Assert.Equal(new SortKey("5", "t-5"), page.NextAfter);
    }

    /// <summary>
    /// The embedded store keeps times to the microsecond: a movement at 09:30:00.000200 is not in a statement from
    /// 09:30:00.000500 and is in one to it. A field kept to the millisecond holds .000 for the movement, and the node cuts
    /// the bound to .000 too, which turns both answers round.
    /// </summary>
    [Fact]
    public async Task GivenBoundsInsideOneMillisecond_WhenAStatementIsListed_ThenTheTimesAndBoundsAreComparedToTheMicrosecond()
    {
        var node = Node().On("POST", "/grpcbank-transactions/_search", Hits(0));
        var store = await StartedStore(node);

        // 500 µs, and 999.1 µs: a bound finer than the microsecond counts as the next one (TimeBounds.Microsecond).
        await store.ListTransactionsAsync(new TransactionQuery("acc-1", T0.AddTicks(5_000), T0.AddTicks(9_991), 10, null), CancellationToken.None);

        var range = JsonNode.Parse(Assert.Single(node.Sent).Body)!["query"]!["bool"]!["filter"]![1]!["range"]!["occurred_at"]!;
        Assert.Equal(("2025-03-01T09:30:00.000500Z", "2025-03-01T09:30:00.001000Z"), ((string)range["gte"]!, (string)range["lt"]!));
        var layout = new IndexLayout("grpcbank", "1");
        Assert.All(
            [(ViewIndex.Transactions, "occurred_at"), (ViewIndex.Accounts, "opened_at"), (ViewIndex.Orders, "placed_at"),
             (ViewIndex.Payments, "created_at"), (ViewIndex.Holds, "placed_at"), (ViewIndex.Holds, "expires_at")],
            field => Assert.Equal("date_nanos",
                (string?)JsonNode.Parse(layout.CreateBody(field.Item1, withAlias: false))!["mappings"]!["properties"]![field.Item2]!["type"]));
    }

    [Fact]
    public async Task GivenANowInsideAMicrosecond_WhenDueHoldsAreListed_ThenThoseExpiringUpToThatMicrosecondAreDue_NotAMillisecondAhead()
    {
        var node = Node().On("POST", "/grpcbank-holds/_search", Hits(0));
        var store = await StartedStore(node);

        await store.DueHoldsAsync(T0.AddTicks(9_995), 10, CancellationToken.None);

        var range = JsonNode.Parse(Assert.Single(node.Sent).Body)!["query"]!["bool"]!["filter"]![1]!["range"]!["expires_at"]!;
        Assert.Equal("2025-03-01T09:30:00.001000Z", (string?)range["lt"]);
        Assert.Null(range["gte"]);
    }

    [Fact]
    public async Task GivenBoundsBeyondWhatDateNanosHolds_WhenSummarized_ThenTheyAreMovedToItsEdges_NotRefusedByTheNode()
    {
        var node = Node().On("POST", "/grpcbank-transactions/_search", Summary);
        var store = await StartedStore(node);

        await store.SummarizeTransactionsAsync(new SummaryQuery("acc-1", null, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, SummaryInterval.Day), CancellationToken.None);

        var range = JsonNode.Parse(Assert.Single(node.Sent).Body)!["query"]!["bool"]!["filter"]![1]!["range"]!["occurred_at"]!;
        Assert.Equal(("1970-01-01T00:00:00.000000Z", "2262-04-11T23:47:16.854775Z"), ((string)range["gte"]!, (string)range["lt"]!));
    }

    [Theory]
    [InlineData("AccountByDay", "acc-1", null, SummaryInterval.Day)]
    [InlineData("CurrencyByMonth", null, "EUR", SummaryInterval.Month)]
    public async Task WhenTransactionsAreSummarized_ThenADateHistogramWithCreditAndDebitFiltersIsAskedFor(
        string name, string? accountId, string? currency, SummaryInterval interval)
    {
        var node = Node().On("POST", "/grpcbank-transactions/_search", Summary);
        var store = await StartedStore(node);

        await store.SummarizeTransactionsAsync(new SummaryQuery(accountId, currency, T0, T0.AddDays(30), interval), CancellationToken.None);

        Snapshot.Match(node.Transcript(), new SnapshotNameExtension(name));
    }

    private const string Summary = """
        {"took":4,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
         "hits":{"total":{"value":5,"relation":"eq"},"max_score":null,"hits":[]},
         "aggregations":{
           "date_histogram#per_interval":{"buckets":[
             {"key_as_string":"2025-03-01T00:00:00.000Z","key":1740787200000,"doc_count":3,
              "filter#credit":{"doc_count":2,"sum#amount":{"value":15000.0}},
              "filter#debit":{"doc_count":1,"sum#amount":{"value":2500.0}}},
             {"key_as_string":"2025-03-03T00:00:00.000Z","key":1740960000000,"doc_count":2,
              "filter#credit":{"doc_count":0,"sum#amount":{"value":0.0}},
              "filter#debit":{"doc_count":2,"sum#amount":{"value":4000.0}}}]},
           "filter#credit":{"doc_count":2,"sum#amount":{"value":15000.0}},
           "filter#debit":{"doc_count":3,"sum#amount":{"value":6500.0}}}}
        """;

    [Fact]
    public async Task GivenTypedKeyAggregations_WhenSummarized_ThenBucketsAndTotalsAreRead()
    {
        var node = Node().On("POST", "/grpcbank-transactions/_search", Summary);
        var store = await StartedStore(node);

        var summary = await store.SummarizeTransactionsAsync(new SummaryQuery("acc-1", null, null, null, SummaryInterval.Day), CancellationToken.None);

        Assert.Equal(
            [
                new SummaryBucket(new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero), 15_000, 2, 2_500, 1),
                new SummaryBucket(new DateTimeOffset(2025, 3, 3, 0, 0, 0, TimeSpan.Zero), 0, 0, 4_000, 2),
            ],
            summary.Buckets);
        Assert.Equal(new SummaryBucket(null, 15_000, 2, 6_500, 3), summary.Totals);
    }

    [Fact]
    public async Task GivenASumPast2To53_WhenSummarized_ThenItIsSumOutOfRange_NeverTheNodesRoundedDouble()
    {
        // 901 deposits of the largest amount and one more unit sum to 9,009,000,000,000,001 minor units; the node's
        // double holds 9,009,000,000,000,000.
        var node = Node().On("POST", "/grpcbank-transactions/_search", Summary.Replace("15000.0", "9009000000000000.0"));
        var store = await StartedStore(node);

        var refused = await Assert.ThrowsAsync<SumOutOfRangeException>(
            () => store.SummarizeTransactionsAsync(new SummaryQuery(null, "EUR", null, null, SummaryInterval.Month), CancellationToken.None));
        Assert.StartsWith("a sum of this summary passes 9007199254740992 minor units", refused.Message);
    }

    public static TheoryData<string, OrderSearch> OrderSearches => new()
    {
        { "Everything", new OrderSearch("", null, null, null, 20, null) },
        { "TextAndFilters", new OrderSearch("engine manual", OrderViewStatus.Paid, "acc-1", "m-1", 10, null) },
        { "NextPage", new OrderSearch("", OrderViewStatus.Cancelled, null, "m-1", 10, new SortKey("2025-03-01T09:33:00.000000Z", "ord-1")) },
    };

    [Theory]
    [MemberData(nameof(OrderSearches))]
    public async Task WhenOrdersAreSearched_ThenNewestFirstWithFilters(string name, OrderSearch search)
    {
        var node = Node().On("POST", "/grpcbank-orders/_search", Hits(0));
        var store = await StartedStore(node);

        await store.SearchOrdersAsync(search, CancellationToken.None);

        Snapshot.Match(node.Transcript(), new SnapshotNameExtension(name));
    }

    public static TheoryData<string, PaymentSearch> PaymentSearches => new()
    {
        { "Everything", new PaymentSearch(null, null, null, 20, null) },
        { "FromOrToAnAccount", new PaymentSearch(PaymentViewStatus.Completed, "acc-1", null, 10, null) },
        { "ByOrderNextPage", new PaymentSearch(null, null, "ord-1", 10, new SortKey("2025-03-01T09:34:00.000000Z", "pay-1")) },
    };

    [Theory]
    [MemberData(nameof(PaymentSearches))]
    public async Task WhenPaymentsAreSearched_ThenNewestFirstAndTheAccountMatchesPayerOrPayee(string name, PaymentSearch search)
    {
        var node = Node().On("POST", "/grpcbank-payments/_search", Hits(0));
        var store = await StartedStore(node);

        await store.SearchPaymentsAsync(search, CancellationToken.None);

        Snapshot.Match(node.Transcript(), new SnapshotNameExtension(name));
    }
}
