using System.Globalization;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Aggregations;
using Elastic.Clients.Elasticsearch.Core.Search;
using Elastic.Clients.Elasticsearch.QueryDsl;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Accounts;
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
        // Owner names sort as written, in code point order (a keyword sorts by its UTF-8 bytes), as the embedded store's
        // BINARY and PostgreSQL's "C" collation order them: Zoe Saldana before Zoë Kravitz, Zed before ada.
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

    public Task<Page<HoldView>> ListHoldsAsync(HoldQuery query, CancellationToken ct) =>
        SearchPageAsync<HoldDocument, HoldView>(ViewIndex.Holds, new BoolQuery { Filter = [Term("account_id", query.AccountId)] },
            [Sort("placed_at", SortOrder.Desc), Sort("hold_id", SortOrder.Desc)], SortValue.Time, query.PageSize, query.After,
            d => d.ToView(), d => d.HoldId, ct, trackTotal: false);

    public async Task<IReadOnlyList<HoldView>> DueHoldsAsync(DateTimeOffset now, int max, CancellationToken ct)
    {
        // Due when it expires at or before now, to the microsecond, as in the embedded store: before now's next microsecond.
        var nextMicrosecond = HoldExpiryPrecision.Of(now).AddTicks(TimeSpan.TicksPerMicrosecond);
        var page = await SearchPageAsync<HoldDocument, HoldView>(ViewIndex.Holds,
            new BoolQuery { Filter = [Term("status", nameof(HoldViewStatus.Active)), TimeRange("expires_at", null, nextMicrosecond)!] },
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
    /// How a primary sort value crosses the boundary. A node answers a <c>date_nanos</c> sort with epoch nanoseconds; the
    /// cursor the read side hands out is <see cref="SortValues.Time"/>, the one form the edge accepts for every store.
    /// </summary>
    private enum SortValue { String, Long, Double, Time }

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
        var request = new SearchRequest(IndexName(view))
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
        var next = more && hits[^1] is { Source: { } last } lastHit ? new SortKey(SortValueText(lastHit.Sort!.First(), primary), idOf(last)) : null;
        return new Page<TView>(hits.Select(h => toView(h.Source!)).ToList(), next, trackTotal ? response.Total : -1);
    }

    private static List<FieldValue> SearchAfter(SortKey after, SortValue primary, int sortCount)
    {
        FieldValue value = primary switch
        {
            SortValue.Long => FieldValue.Long(SortValues.ParseNumber(after.Value) ?? throw NotASortValue(after, primary)),
            SortValue.Double => FieldValue.Double(SortValues.ParseScore(after.Value) ?? throw NotASortValue(after, primary)),
            SortValue.Time => FieldValue.Long(EpochNanos(SortValues.ParseTime(after.Value) ?? throw NotASortValue(after, primary))),
            _ => FieldValue.String(after.Value),
        };
        return sortCount == 1 ? [value] : [value, FieldValue.String(after.Id)];
    }

    private static ArgumentException NotASortValue(SortKey after, SortValue primary) =>
        new($"\"{after.Value}\" is not a {primary} sort value", nameof(after));

    private static string SortValueText(FieldValue value, SortValue primary) => value switch
    {
        _ when primary == SortValue.Time && value.TryGetLong(out var ns) => SortValues.Time(DateTimeOffset.UnixEpoch.AddTicks(ns!.Value / NanosPerTick)),
        _ when value.TryGetLong(out var l) => SortValues.Number(l!.Value),
        _ when value.TryGetDouble(out var d) => SortValues.Score(d!.Value),
        _ when value.TryGetString(out var s) => s!,
        _ => throw new ElasticsearchReadStoreException($"unexpected sort value {value}"),
    };

    /// <summary>
    /// Text search on one text field, word by word and every word required, as in the embedded store: a word matches
    /// a term it starts (<c>match_bool_prefix</c> on the one word: a plain prefix query, however many terms share the
    /// prefix) or, with <paramref name="typos"/>, a term as many edits away as the embedded store allows (<see cref="Typo"/>).
    /// The words are the embedded store's (<see cref="SearchText.Tokens"/>: runs of letters and digits, marks dropped),
    /// and the field's analyzer cuts names and descriptions into words the same way, so "o'neil" is two words on both
    /// sides and "engine-manual" needs both; case and diacritics never matter. Blank text matches everything the
    /// filters let through; text with no word in it matches nothing.
    /// </summary>
    private static BoolQuery TextQuery(string field, string text, List<Query> filters, bool typos)
    {
        if (string.IsNullOrWhiteSpace(text)) return new BoolQuery { Filter = filters };
        var words = SearchText.Tokens(text);
        if (words.Count == 0) return new BoolQuery { Must = [new MatchNoneQuery()], Filter = filters };
        return new BoolQuery
        {
            Must = words.Select(word => typos ? Typo(field, word) : new MatchBoolPrefixQuery(field, word)).ToList(),
            Filter = filters,
        };
    }

    /// <summary>
    /// One word of a search that tolerates typos, scored as the embedded store ranks (<see cref="SearchText.Cost"/>, the
    /// smaller the better): 3 for a term the word starts, 3 less the edits for a typo, and half a point less again when
    /// the typo is in the first letter (the embedded store's cost grows as the shared beginning shrinks: for "dorthy",
    /// Dorothy before Worthy). The edits are the embedded store's: one for words of 3 or 4 letters, two from 5
    /// (<see cref="SearchText.MaxTypos"/>), none below 3. The scores are constant where BM25 would weigh each name
    /// against the whole index: an account opened, or reindexed as its balance moved, between two pages of a relevance
    /// search would move the other names' scores, and the page token's (score, id) would repeat or skip accounts. The
    /// words' scores add up.
    /// </summary>
    private static Query Typo(string field, string word)
    {
        var clauses = new List<Query> { Constant(new MatchBoolPrefixQuery(field, word), 3) };
        for (var edits = 1; word.Length >= 3 && edits <= SearchText.MaxTypos(word); edits++)
        {
            clauses.Add(Constant(Fuzzy(field, word, edits, firstLetterKept: true), 3 - edits));
            clauses.Add(Constant(Fuzzy(field, word, edits, firstLetterKept: false), 2.5f - edits));
        }
        return new DisMaxQuery { Queries = clauses };
    }

    private static MatchQuery Fuzzy(string field, string word, int edits, bool firstLetterKept) =>
        new(field, word) { Fuzziness = new Fuzziness(edits.ToString(CultureInfo.InvariantCulture)), PrefixLength = firstLetterKept ? 1 : null };

    private static Query Constant(Query query, float score) => new ConstantScoreQuery { Filter = query, Boost = score };

    private static Query Term(string field, string value) => new TermQuery(field, value);

    private static Query Terms(string field, string[] values) =>
        new TermsQuery(field, new TermsQueryField(values.Select(FieldValue.String).ToArray()));

    /// <summary>
    /// [from, to): both ends optional, compared to the microsecond as the embedded store compares them
    /// (<see cref="TimeBounds.Microsecond"/>); the fields are <c>date_nanos</c>, so no two times of one millisecond are
    /// taken for equal. Bounds outside what <c>date_nanos</c> holds (1970 to 2262) are moved to its edge, where they
    /// select the same stored times.
    /// </summary>
    private static Query? TimeRange(string field, DateTimeOffset? from, DateTimeOffset? to) =>
        from is null && to is null
            ? null
            : (Query)new DateRangeQuery(field) { Gte = Bound(from), Lt = Bound(to) };

    private static DateMath? Bound(DateTimeOffset? at) =>
        at is { } time
            ? DateMath.Anchored(SortValues.Time(DateTimeOffset.UnixEpoch.AddTicks(Math.Clamp(EpochNanos(TimeBounds.Microsecond(time)), 0, LastNanos) / NanosPerTick)))
            : null;

    private const long NanosPerTick = 100;

    /// <summary>The last whole microsecond <c>date_nanos</c> holds (2262-04-11T23:47:16.854775Z).</summary>
    private const long LastNanos = long.MaxValue / 1000 * 1000;

    /// <summary>Nanoseconds since 1970, as a <c>date_nanos</c> field sorts; saturates outside the range a long holds.</summary>
    private static long EpochNanos(DateTimeOffset at)
    {
        var ticks = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        return ticks > long.MaxValue / NanosPerTick ? long.MaxValue : ticks < long.MinValue / NanosPerTick ? long.MinValue : ticks * NanosPerTick;
    }

    private static SortOptions Sort(string field, SortOrder order) =>
        field == "_score"
            ? new SortOptions { Score = new ScoreSort { Order = order } }
            : new SortOptions { Field = new FieldSort { Field = field, Order = order } };
}
