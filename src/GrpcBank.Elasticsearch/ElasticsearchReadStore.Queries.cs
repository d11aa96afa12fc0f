using System.Globalization;
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
        var response = await client.GetAsync<TDocument>(ReadName(view), id, ct);
        if (response.ApiCallDetails.HttpStatusCode == 404) return null;
        if (!response.IsValidResponse) throw BulkWriter.Failure($"GET {view} {id}", response);
        return response.Found ? response.Source : null;
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
            AccountOrder.OpenedAt => ("opened_at", SortOrder.Asc, SortValue.Long),
            AccountOrder.OpenedAtDesc => ("opened_at", SortOrder.Desc, SortValue.Long),
            _ => throw new ArgumentOutOfRangeException(nameof(query), query.Order, "unknown account order"),
        };
        return SearchPageAsync<AccountDocument, AccountView>(ViewIndex.Accounts, TextQuery("owner_name", query.Text, filters),
            [Sort(field, order), Sort("account_id", SortOrder.Asc)], kind, query.PageSize, query.After,
            d => d.ToView(), d => d.AccountId, ct);
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

    public Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct)
    {
        var filters = new List<Query>();
        if (query.Status is { } status) filters.Add(Term("status", status.ToString()));
        if (query.CustomerAccountId is { Length: > 0 } customer) filters.Add(Term("customer_account_id", customer));
        if (query.MerchantAccountId is { Length: > 0 } merchant) filters.Add(Term("merchant_account_id", merchant));
        return SearchPageAsync<OrderDocument, OrderView>(ViewIndex.Orders, TextQuery("description", query.Text, filters),
            [Sort("placed_at", SortOrder.Desc), Sort("order_id", SortOrder.Desc)], SortValue.Long, query.PageSize, query.After,
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
            [Sort("created_at", SortOrder.Desc), Sort("payment_id", SortOrder.Desc)], SortValue.Long, query.PageSize, query.After,
            d => d.ToView(), d => d.PaymentId, ct);
    }

    public async Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct)
    {
        await EnsureInitializedAsync(ct);
        var filters = new List<Query>();
        if (query.AccountId is { Length: > 0 } account) filters.Add(Term("account_id", account));
        if (query.CurrencyCode is { Length: > 0 } currency) filters.Add(Term("currency_code", currency));
        if (TimeRange("occurred_at", query.From, query.To) is { } range) filters.Add(range);
        var request = new SearchRequest(ReadName(ViewIndex.Transactions))
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
        // A sum comes back as a double: exact for amounts below 2^53 minor units.
        return new SummaryBucket(start,
            (long)Math.Round(credit.Aggregations!.GetSum("amount")?.Value ?? 0), credit.DocCount,
            (long)Math.Round(debit.Aggregations!.GetSum("amount")?.Value ?? 0), debit.DocCount);
    }

    private enum SortValue { String, Long, Double }

    /// <summary>
    /// One page by search_after. One more hit than asked is fetched, so <see cref="Page{T}.NextAfter"/> is set only when
    /// another page really follows.
    /// </summary>
    private async Task<Page<TView>> SearchPageAsync<TDocument, TView>(
        ViewIndex view, Query query, ICollection<SortOptions> sort, SortValue primary, int pageSize, SortKey? after,
        Func<TDocument, TView> toView, Func<TDocument, string> idOf, CancellationToken ct, bool trackTotal = true)
        where TDocument : class
    {
        await EnsureInitializedAsync(ct);
        var request = new SearchRequest(ReadName(view))
        {
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
        var next = more && hits[^1] is { Source: { } last } lastHit ? new SortKey(SortValueText(lastHit.Sort!.First()), idOf(last)) : null;
        return new Page<TView>(hits.Select(h => toView(h.Source!)).ToList(), next, trackTotal ? response.Total : -1);
    }

    private static List<FieldValue> SearchAfter(SortKey after, SortValue primary, int sortCount)
    {
        FieldValue value = primary switch
        {
            SortValue.Long => FieldValue.Long(long.Parse(after.Value, CultureInfo.InvariantCulture)),
            SortValue.Double => FieldValue.Double(double.Parse(after.Value, CultureInfo.InvariantCulture)),
            _ => FieldValue.String(after.Value),
        };
        return sortCount == 1 ? [value] : [value, FieldValue.String(after.Id)];
    }

    private static string SortValueText(FieldValue value) => value switch
    {
        _ when value.TryGetLong(out var l) => l!.Value.ToString(CultureInfo.InvariantCulture),
        _ when value.TryGetDouble(out var d) => d!.Value.ToString("R", CultureInfo.InvariantCulture),
        _ when value.TryGetString(out var s) => s!,
        _ => throw new ElasticsearchReadStoreException($"unexpected sort value {value}"),
    };

    /// <summary>
    /// Typo-tolerant and prefix search on one text field: a fuzzy match (AUTO, first letter exact) or a phrase prefix
    /// ("ada lov" finds "Ada Lovelace"). Blank text matches everything the filters let through; text without a letter or
    /// digit matches nothing (the analyzer would keep an emoji as a term, the embedded store would not).
    /// </summary>
    private static BoolQuery TextQuery(string field, string text, List<Query> filters) =>
        string.IsNullOrWhiteSpace(text)
            ? new BoolQuery { Filter = filters }
            : !text.Any(char.IsLetterOrDigit)
            ? new BoolQuery { Must = [new MatchNoneQuery()], Filter = filters }
            : new BoolQuery
            {
                Should =
                [
                    new MatchQuery(field, text) { Fuzziness = new Fuzziness("AUTO"), PrefixLength = 1 },
                    new MatchPhrasePrefixQuery(field, text),
                ],
                MinimumShouldMatch = 1,
                Filter = filters,
            };

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
