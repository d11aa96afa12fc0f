using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Aggregations;
using Elastic.Clients.Elasticsearch.Core.Search;
using Elastic.Clients.Elasticsearch.QueryDsl;
using GrpcBank.Application.ReadSide;
using SortKey = GrpcBank.Application.ReadSide.SortKey;

namespace GrpcBank.Elasticsearch;

public sealed partial class ElasticsearchReadStore
{
    // The kinds' stored names; TransactionKinds decides which are credits.
    private static readonly string[] CreditKinds = TransactionKinds.Credits.Select(k => k.ToString()).ToArray();
    private static readonly string[] DebitKinds = TransactionKinds.Debits.Select(k => k.ToString()).ToArray();

    public async Task<AccountView?> GetAccountAsync(string accountId, CancellationToken ct) =>
        (await GetAsync<AccountDocument>(ViewIndex.Accounts, accountId, ct))?.ToView();

    public async Task<OrderView?> GetOrderAsync(string orderId, CancellationToken ct) =>
        (await GetAsync<OrderDocument>(ViewIndex.Orders, orderId, ct))?.ToView();

    public async Task<PaymentView?> GetPaymentAsync(string paymentId, CancellationToken ct) =>
        (await GetAsync<PaymentDocument>(ViewIndex.Payments, paymentId, ct))?.ToView();

    private async Task<TDocument?> GetAsync<TDocument>(ViewIndex view, string id, CancellationToken ct) where TDocument : class
    {
        await EnsureInitializedAsync(ct);
        return (await LoadAsync<TDocument, TDocument>(IndexName(view), [id], d => d, ct)).GetValueOrDefault(id);
    }

    public Task<Page<AccountView>> SearchAccountsAsync(AccountSearch query, CancellationToken ct)
    {
        var filters = new List<Query>();
        if (query.Status is { } status) filters.Add(Term("status", status.ToString()));
        if (query.CurrencyCode is { Length: > 0 } currency) filters.Add(Term("currency_code", currency));
        var (field, order, kind) = query.Order switch
        {
            AccountOrder.Relevance => ("_score", SortOrder.Desc, SortValue.Double),
            AccountOrder.OwnerName => ("owner_name.keyword", SortOrder.Asc, SortValue.String),
            AccountOrder.OwnerNameDesc => ("owner_name.keyword", SortOrder.Desc, SortValue.String),
            AccountOrder.BalanceMinor => ("balance_minor", SortOrder.Asc, SortValue.Long),
            AccountOrder.BalanceMinorDesc => ("balance_minor", SortOrder.Desc, SortValue.Long),
            AccountOrder.OpenedAt => ("opened_at", SortOrder.Asc, SortValue.Time),
            AccountOrder.OpenedAtDesc => ("opened_at", SortOrder.Desc, SortValue.Time),
            _ => throw new ArgumentOutOfRangeException(nameof(query), query.Order, "unknown account order"),
        };
        return SearchPageAsync<AccountDocument, AccountView>(ViewIndex.Accounts, TextQuery("owner_name", query.Text, filters, typos: true),
            [Sort(field, order), Sort("account_id", SortOrder.Asc)], kind, query.PageSize, query.After,
            d => d.ToView(), d => d.AccountId, ct,
            preference: query.Order == AccountOrder.Relevance ? ShardCopiesFor(query with { After = null, PageSize = 0 }) : null);
    }

    public Task<Page<TransactionView>> ListTransactionsAsync(TransactionQuery query, CancellationToken ct)
    {
        var filters = new List<Query> { Term("account_id", query.AccountId) };
        if (TimeRange("occurred_at", query.From, query.To) is { } range) filters.Add(range);
        // Positions are unique, so the position alone is a total order.
        return SearchPageAsync<TransactionDocument, TransactionView>(ViewIndex.Transactions, new BoolQuery { Filter = filters },
            [Sort("position", SortOrder.Asc)], SortValue.Long, query.PageSize, query.After,
            d => d.ToView(), d => d.TransactionId, ct, trackTotal: false);
    }

    public Task<Page<HoldView>> ListHoldsAsync(HoldQuery query, CancellationToken ct) =>
        SearchPageAsync<HoldDocument, HoldView>(ViewIndex.Holds, new BoolQuery { Filter = [Term("account_id", query.AccountId)] },
            [Sort("placed_at", SortOrder.Desc), Sort("hold_id", SortOrder.Desc)], SortValue.Time, query.PageSize, query.After,
            d => d.ToView(), d => d.HoldId, ct, trackTotal: false);

    public async Task<IReadOnlyList<HoldView>> DueHoldsAsync(DateTimeOffset now, int max, CancellationToken ct)
    {
        // Dates are stored to the millisecond: a hold up to a millisecond short of due may be listed, and the account's
        // own decision (never early) leaves it until it is due.
        var page = await SearchPageAsync<HoldDocument, HoldView>(ViewIndex.Holds,
            new BoolQuery { Filter = [Term("status", nameof(HoldViewStatus.Active)), TimeRange("expires_at", null, now.AddMilliseconds(1))!] },
            [Sort("expires_at", SortOrder.Asc), Sort("account_id", SortOrder.Asc), Sort("hold_id", SortOrder.Asc)], SortValue.Time, max, null,
            d => d.ToView(), d => d.HoldId, ct, trackTotal: false);
        return page.Items;
    }

    public Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct)
    {
        var filters = new List<Query>();
        if (query.Status is { } status) filters.Add(Term("status", status.ToString()));
        if (query.CustomerAccountId is { Length: > 0 } customer) filters.Add(Term("customer_account_id", customer));
        if (query.MerchantAccountId is { Length: > 0 } merchant) filters.Add(Term("merchant_account_id", merchant));
        return SearchPageAsync<OrderDocument, OrderView>(ViewIndex.Orders, TextQuery("description", query.Text, filters, typos: false),
            [Sort("placed_at", SortOrder.Desc), Sort("order_id", SortOrder.Desc)], SortValue.Time, query.PageSize, query.After,
            d => d.ToView(), d => d.OrderId, ct);
    }

    public Task<Page<PaymentView>> SearchPaymentsAsync(PaymentSearch query, CancellationToken ct)
    {
        var filters = new List<Query>();
        if (query.Status is { } status) filters.Add(Term("status", status.ToString()));
        if (query.OrderId is { Length: > 0 } order) filters.Add(Term("order_id", order));
        if (query.AccountId is { Length: > 0 } account)
            filters.Add(new BoolQuery { Should = [Term("from_account_id", account), Term("to_account_id", account)], MinimumShouldMatch = 1 });
        return SearchPageAsync<PaymentDocument, PaymentView>(ViewIndex.Payments, new BoolQuery { Filter = filters },
            [Sort("created_at", SortOrder.Desc), Sort("payment_id", SortOrder.Desc)], SortValue.Time, query.PageSize, query.After,
            d => d.ToView(), d => d.PaymentId, ct);
    }

    public async Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct)
    {
        await EnsureInitializedAsync(ct);
        var filters = new List<Query>();
        if (query.AccountId is { Length: > 0 } account) filters.Add(Term("account_id", account));
        if (query.CurrencyCode is { Length: > 0 } currency) filters.Add(Term("currency_code", currency));
        if (TimeRange("occurred_at", query.From, query.To) is { } range) filters.Add(range);
        var request = new SearchRequest(IndexName(ViewIndex.Transactions))
        {
            Size = 0,
            Query = new BoolQuery { Filter = filters },
            Aggregations = new Dictionary<string, Aggregation>
            {
                ["per_interval"] = new()
                {
                    DateHistogram = new DateHistogramAggregation
                    {
                        Field = "occurred_at",
                        CalendarInterval = query.Interval == SummaryInterval.Month ? CalendarInterval.Month : CalendarInterval.Day,
                        MinDocCount = 1,
                    },
                    Aggregations = Movements(),
                },
                ["credit"] = Movements()["credit"],
                ["debit"] = Movements()["debit"],
            },
        };
        var response = await client.SearchAsync<TransactionDocument>(request, ct);
        if (!response.IsValidResponse) throw BulkWriter.Failure("summarizing transactions", response);
        var buckets = response.Aggregations!.GetDateHistogram("per_interval")!.Buckets
            .Select(b => Bucket(b.Key, b.Aggregations ?? throw new ElasticsearchReadStoreException("a summary bucket came back without its sums")))
            .ToList();
        return new TransactionSummary(buckets, Bucket(null, response.Aggregations!));
    }

    /// <summary>Money in and money out, each a count (the filter's doc count) and a sum.</summary>
    private static Dictionary<string, Aggregation> Movements() => new()
    {
        ["credit"] = new() { Filter = Terms("kind", CreditKinds), Aggregations = new Dictionary<string, Aggregation> { ["amount"] = new() { Sum = new SumAggregation { Field = "amount_minor" } } } },
        ["debit"] = new() { Filter = Terms("kind", DebitKinds), Aggregations = new Dictionary<string, Aggregation> { ["amount"] = new() { Sum = new SumAggregation { Field = "amount_minor" } } } },
    };

    private static SummaryBucket Bucket(DateTimeOffset? start, AggregateDictionary aggregations)
    {
        var credit = aggregations.GetFilter("credit")!;
        var debit = aggregations.GetFilter("debit")!;
        return new SummaryBucket(start,
            Minor(credit.Aggregations!.GetSum("amount")?.Value ?? 0), credit.DocCount,
            Minor(debit.Aggregations!.GetSum("amount")?.Value ?? 0), debit.DocCount);
    }

    /// <summary>
    /// A node sums in doubles: every amount and every partial sum of these positive amounts is exact below 2^53 minor
    /// units, and past it the sum may be off by a few units. Such a sum is refused rather than answered wrong.
    /// </summary>
    private const long ExactSumLimit = 1L << 53;

    /// <summary>A sum in minor units, exact, or <see cref="SumOutOfRangeException"/>.</summary>
    private static long Minor(double sum) => sum < ExactSumLimit ? (long)Math.Round(sum)
        : throw new SumOutOfRangeException(limit: ExactSumLimit, why: " (Elasticsearch sums in floating point, exact only below that)");

    /// <summary>
    /// How a primary sort value crosses the boundary. A node answers a date sort with epoch milliseconds; the cursor the
    /// read side hands out is <see cref="SortValues.Time"/>, the one form the edge accepts for every store.
    /// </summary>
    private enum SortValue { String, Long, Double, Time }

    /// <summary>
    /// One page by search_after. One more hit than asked is fetched, so <see cref="Page{T}.NextAfter"/> is set only when
    /// another page really follows.
    /// </summary>
    private async Task<Page<TView>> SearchPageAsync<TDocument, TView>(
        ViewIndex view, Query query, ICollection<SortOptions> sort, SortValue primary, int pageSize, SortKey? after,
        Func<TDocument, TView> toView, Func<TDocument, string> idOf, CancellationToken ct, bool trackTotal = true, string? preference = null)
        where TDocument : class
    {
        await EnsureInitializedAsync(ct);
        var request = new SearchRequest(IndexName(view))
        {
            Preference = preference,
            Query = query,
            Sort = sort,
            Size = pageSize + 1,
            TrackTotalHits = new TrackHits(trackTotal),
            SearchAfter = after is null ? null : SearchAfter(after, primary, sort.Count),
        };
        var response = await client.SearchAsync<TDocument>(request, ct);
        if (!response.IsValidResponse) throw BulkWriter.Failure($"searching {view}", response);
        var hits = response.Hits.Take(pageSize).ToList();
        var more = response.Hits.Count > pageSize;
        var next = more && hits[^1] is { Source: { } last } lastHit ? new SortKey(SortValueText(lastHit.Sort!.First(), primary), idOf(last)) : null;
        return new Page<TView>(hits.Select(h => toView(h.Source!)).ToList(), next, trackTotal ? response.Total : -1);
    }

    private static List<FieldValue> SearchAfter(SortKey after, SortValue primary, int sortCount)
    {
        FieldValue value = primary switch
        {
            SortValue.Long => FieldValue.Long(SortValues.ParseNumber(after.Value) ?? throw NotASortValue(after, primary)),
            SortValue.Double => FieldValue.Double(SortValues.ParseScore(after.Value) ?? throw NotASortValue(after, primary)),
            SortValue.Time => FieldValue.Long((SortValues.ParseTime(after.Value) ?? throw NotASortValue(after, primary)).ToUnixTimeMilliseconds()),
            _ => FieldValue.String(after.Value),
        };
        return sortCount == 1 ? [value] : [value, FieldValue.String(after.Id)];
    }

    /// <summary>
    /// Scores differ slightly between copies of a shard (deleted documents not yet merged away count in their
    /// statistics), so every page of one relevance search asks the same copies: a custom <c>preference</c> derived from
    /// the search itself. What it cannot pin is the index between pages: an account reindexed in between (its balance
    /// moved) may be scored anew and show up on two pages or on none; explicit orders have no such gap.
    /// </summary>
    private static string ShardCopiesFor(AccountSearch search) =>
        "search-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(search.ToString())))[..16].ToLowerInvariant();

    private static ArgumentException NotASortValue(SortKey after, SortValue primary) =>
        new($"\"{after.Value}\" is not a {primary} sort value", nameof(after));

    private static string SortValueText(FieldValue value, SortValue primary) => value switch
    {
        _ when primary == SortValue.Time && value.TryGetLong(out var ms) => SortValues.Time(DateTimeOffset.FromUnixTimeMilliseconds(ms!.Value)),
        _ when value.TryGetLong(out var l) => SortValues.Number(l!.Value),
        _ when value.TryGetDouble(out var d) => SortValues.Score(d!.Value),
        _ when value.TryGetString(out var s) => s!,
        _ => throw new ElasticsearchReadStoreException($"unexpected sort value {value}"),
    };

    /// <summary>
    /// Text search on one text field, word by word and every word required, as in the embedded store: a word matches
    /// a term it starts (<c>match_bool_prefix</c> on the one word: a plain prefix query, however many terms share the
    /// prefix) or, with <paramref name="typos"/>, a term within AUTO edits (first letter exact). Each word is analyzed
    /// like the field, so case and diacritics never matter. Blank text matches everything the filters let through;
    /// words without a letter or digit are no words (the analyzer would keep an emoji as a term, the embedded store
    /// would not), and text of only such words matches nothing.
    /// </summary>
    private static BoolQuery TextQuery(string field, string text, List<Query> filters, bool typos)
    {
        if (string.IsNullOrWhiteSpace(text)) return new BoolQuery { Filter = filters };
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Where(w => w.Any(char.IsLetterOrDigit)).ToList();
        if (words.Count == 0) return new BoolQuery { Must = [new MatchNoneQuery()], Filter = filters };
        return new BoolQuery
        {
            Must = words.Select(word => typos
                ? new BoolQuery
                {
                    Should = [new MatchBoolPrefixQuery(field, word), new MatchQuery(field, word) { Fuzziness = new Fuzziness("AUTO"), PrefixLength = 1 }],
                    MinimumShouldMatch = 1,
                }
                : (Query)new MatchBoolPrefixQuery(field, word)).ToList(),
            Filter = filters,
        };
    }

    private static Query Term(string field, string value) => new TermQuery(field, value);

    private static Query Terms(string field, string[] values) =>
        new TermsQuery(field, new TermsQueryField(values.Select(FieldValue.String).ToArray()));

    /// <summary>[from, to): both ends optional.</summary>
    private static Query? TimeRange(string field, DateTimeOffset? from, DateTimeOffset? to) =>
        from is null && to is null
            ? null
            : (Query)new DateRangeQuery(field) { Gte = from?.UtcDateTime, Lt = to?.UtcDateTime };

    private static SortOptions Sort(string field, SortOrder order) =>
        field == "_score"
            ? new SortOptions { Score = new ScoreSort { Order = order } }
            : new SortOptions { Field = new FieldSort { Field = field, Order = order } };
}
