using GrpcBank.Application.ReadSide;
using Microsoft.Data.Sqlite;
using static GrpcBank.Sqlite.SqliteEventStore;

namespace GrpcBank.Sqlite;

// Searches, statements and summaries. Every query is assembled from fixed SQL fragments chosen by the
// query's shape; values only ever travel as parameters.
public sealed partial class SqliteReadStore
{
    /// <summary>Typo candidates taken from the trigram index per query token, before re-ranking in C#.</summary>
    private const int TypoCandidates = 200;

    /// <summary>
    /// Sees each query's statement, bound and on its connection, before it runs, so QueryPlanSpecs explain the statements
    /// the store really runs. Per async flow: only the code that sets it sees anything; never set in a server.
    /// </summary>
    internal static readonly AsyncLocal<Action<SqliteCommand>?> QueryObserver = new();

    private static SqliteCommand Query(SqliteConnection connection, SqliteTransaction tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = SqliteDatabase.Command(connection, tx, sql, parameters);
        QueryObserver.Value?.Invoke(command);
        return command;
    }

    private sealed record SortColumn(string Expression, bool Descending, Func<string, object?> ParseAfter);

    private static readonly IReadOnlyDictionary<AccountOrder, SortColumn> AccountSorts = new Dictionary<AccountOrder, SortColumn>
    {
        [AccountOrder.Relevance] = new("score", false, v => SortValues.ParseScore(v)),
        [AccountOrder.OwnerName] = new("a.owner_name", false, v => v),
        [AccountOrder.OwnerNameDesc] = new("a.owner_name", true, v => v),
        [AccountOrder.BalanceMinor] = new("a.balance_minor", false, v => SortValues.ParseNumber(v)),
        [AccountOrder.BalanceMinorDesc] = new("a.balance_minor", true, v => SortValues.ParseNumber(v)),
        [AccountOrder.OpenedAt] = new("a.opened_at", false, ParseMicros),
        [AccountOrder.OpenedAtDesc] = new("a.opened_at", true, ParseMicros),
    };

    private static object? ParseMicros(string value) => SortValues.ParseTime(value) is { } at ? ToMicros(at) : null;

    public Task<Page<AccountView>> SearchAccountsAsync(AccountSearch query, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            var tokens = SearchText.Tokens(query.Text);
            var filter = new Filter();
            string source;
            if (tokens.Count == 0)
            {
                source = $"select {Prefixed("a.", AccountColumns)}, 0.0 as score from accounts a";
                if (SearchText.FindsNothing(query.Text, tokens)) filter.Add("0 = 1");
            }
            else
            {
                connection.CreateFunction("typo_distance", (string text) => SearchText.Distance(tokens, text));
                // Relevance is the name's distance from the query alone (ties by id), as in the PostgreSQL store: a
                // score that weighs the other rows (bm25's term and length statistics) moves with every account
                // opened, and a page token's cursor would then skip or repeat rows.
                source = $"""
                    select {Prefixed("a.", AccountColumns)}, typo_distance(a.owner_name) as score
                    from accounts_fts join accounts a on a.rowid = accounts_fts.rowid
                    """;
                filter.Add("accounts_fts match $match", ("$match", OwnerNameMatch(connection, tx, tokens)));
            }
            if (query.Status is { } status) filter.Add("a.status = $status", ("$status", status.ToString()));
            if (query.CurrencyCode is { } currency) filter.Add("a.currency_code = $currency", ("$currency", currency));
            var sort = AccountSorts[query.Order];
            return PageOf(connection, tx, source, filter, sort, "a.account_id", query.PageSize, query.After, ReadAccount,
                (v, r) => new SortKey(query.Order switch
                {
                    AccountOrder.Relevance => SortValues.Score(r.GetDouble(r.GetOrdinal("score"))),
                    AccountOrder.OwnerName or AccountOrder.OwnerNameDesc => v.OwnerName,
                    AccountOrder.BalanceMinor or AccountOrder.BalanceMinorDesc => SortValues.Number(v.BalanceMinor),
                    _ => SortValues.Time(v.OpenedAt),
                }, v.AccountId));
        }));

    /// <summary>
    /// The FTS5 query for owner names: per token, the token as a prefix or any close vocabulary term
    /// (trigram candidates re-ranked by edit distance); all tokens required.
    /// </summary>
    private static string OwnerNameMatch(SqliteConnection connection, SqliteTransaction tx, IReadOnlyList<string> tokens) =>
        string.Join(" AND ", tokens.Select(token =>
        {
            var alternatives = Corrections(connection, tx, token).Select(SearchText.Quote).Prepend(SearchText.Quote(token) + "*");
            return "(" + string.Join(" OR ", alternatives) + ")";
        }));

    private static IEnumerable<string> Corrections(SqliteConnection connection, SqliteTransaction tx, string token)
    {
        // A token of fewer than three characters has no trigram (an empty match is an FTS5 syntax error), and no typos.
        if (SearchText.TrigramMatch(token) is not { Length: > 0 } trigrams) return [];
        using var command = Query(connection, tx,
            "select term from owner_terms_trigram where owner_terms_trigram match $trigrams order by rank limit $limit",
            ("$trigrams", trigrams), ("$limit", TypoCandidates));
        using var reader = command.ExecuteReader();
        var candidates = new List<string>();
        while (reader.Read()) candidates.Add(reader.GetString(0));
        return SearchText.Corrections(token, candidates);
    }

    public Task<Page<TransactionView>> ListTransactionsAsync(TransactionQuery query, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            var filter = new Filter().Add("t.account_id = $account", ("$account", query.AccountId));
            AddTimeRange(filter, "t.occurred_at", query.From, query.To);
            return PageOf(connection, tx, $"select {Prefixed("t.", TransactionColumns)} from transactions t", filter,
                new SortColumn("t.position", false, v => SortValues.ParseNumber(v)), "t.transaction_id",
                query.PageSize, query.After, ReadTransaction, (v, _) => new SortKey(SortValues.Number(v.Position), v.TransactionId), counted: false);
        }));

    public Task<Page<HoldView>> ListHoldsAsync(HoldQuery query, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            var filter = new Filter().Add("h.account_id = $account", ("$account", query.AccountId));
            return PageOf(connection, tx, $"select {Prefixed("h.", HoldColumns)} from holds h", filter,
                new SortColumn("h.placed_at", true, ParseMicros), "h.hold_id",
                query.PageSize, query.After, ReadHold, (v, _) => new SortKey(SortValues.Time(v.PlacedAt), v.HoldId), counted: false);
        }));

    public Task<IReadOnlyList<HoldView>> DueHoldsAsync(DateTimeOffset now, int max, CancellationToken ct) =>
        Task.FromResult(db.Read<IReadOnlyList<HoldView>>((connection, tx) =>
        {
            using var command = Query(connection, tx, $"""
                select {HoldColumns} from holds where status = $active and expires_at <= $now order by expires_at, account_id, hold_id limit $max
                """, ("$active", nameof(HoldViewStatus.Active)), ("$now", ToMicros(now)), ("$max", max));
            using var reader = command.ExecuteReader();
            var due = new List<HoldView>();
            while (reader.Read()) due.Add(ReadHold(reader));
            return due;
        }));

    public Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            var filter = new Filter();
            if (query.AccountId is { } account) filter.Add("account_id = $account", ("$account", account));
            if (query.CurrencyCode is { } currency) filter.Add("currency_code = $currency", ("$currency", currency));
            AddTimeRange(filter, "occurred_at", query.From, query.To);
            using var command = Query(connection, tx, $"""
                select occurred_at / {MicrosPerDay} as day,
                       sum(case when kind in ({CreditKinds}) then amount_minor else 0 end),
                       sum(case when kind in ({CreditKinds}) then 1 else 0 end),
                       sum(case when kind in ({DebitKinds}) then amount_minor else 0 end),
                       sum(case when kind in ({DebitKinds}) then 1 else 0 end)
                from transactions {filter.Where} group by day order by day
                """, filter.Parameters.ToArray());
            var days = new List<SummaryBucket>();
            try
            {
                using var reader = command.ExecuteReader();
                while (reader.Read())
                    days.Add(new SummaryBucket(DateTimeOffset.UnixEpoch.AddDays(reader.GetInt64(0)),
                        reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
            }
            catch (SqliteException e) when (e.Message.Contains("integer overflow", StringComparison.Ordinal))
            {
                throw new SumOutOfRangeException(e);
            }
            return Summaries.Of(days, query.Interval);
        }));

    private const long MicrosPerDay = 86_400_000_000;

    // SQL lists of the kinds' stored names (TransactionKinds decides which are credits), quoted once here.
    private static readonly string CreditKinds = string.Join(", ", TransactionKinds.Credits.Select(k => $"'{k}'"));
    private static readonly string DebitKinds = string.Join(", ", TransactionKinds.Debits.Select(k => $"'{k}'"));

    public Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            var filter = new Filter();
            var tokens = SearchText.Tokens(query.Text);
            if (tokens.Count > 0)
                filter.Add("o.rowid in (select rowid from orders_fts where orders_fts match $match)", ("$match", SearchText.PrefixMatch(tokens)));
            else if (SearchText.FindsNothing(query.Text, tokens))
                filter.Add("0 = 1");
            if (query.Status is { } status) filter.Add("o.status = $status", ("$status", status.ToString()));
            if (query.CustomerAccountId is { } customer) filter.Add("o.customer_account_id = $customer", ("$customer", customer));
            if (query.MerchantAccountId is { } merchant) filter.Add("o.merchant_account_id = $merchant", ("$merchant", merchant));
            return PageOf(connection, tx, $"select {Prefixed("o.", OrderColumns)} from orders o", filter,
                new SortColumn("o.placed_at", true, ParseMicros), "o.order_id",
                query.PageSize, query.After, ReadOrder, (v, _) => new SortKey(SortValues.Time(v.PlacedAt), v.OrderId));
        }));

    public Task<Page<PaymentView>> SearchPaymentsAsync(PaymentSearch query, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            var filter = new Filter();
            if (query.Status is { } status) filter.Add("p.status = $status", ("$status", status.ToString()));
            if (query.AccountId is { } account)
                filter.Add("(p.from_account_id = $account or p.to_account_id = $account)", ("$account", account));
            if (query.OrderId is { } order) filter.Add("p.order_id = $order", ("$order", order));
            return PageOf(connection, tx, $"select {Prefixed("p.", PaymentColumns)} from payments p", filter,
                new SortColumn("p.created_at", true, ParseMicros), "p.payment_id",
                query.PageSize, query.After, ReadPayment, (v, _) => new SortKey(SortValues.Time(v.CreatedAt), v.PaymentId));
        }));

    private static void AddTimeRange(Filter filter, string column, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } start) filter.Add($"{column} >= $from", ("$from", ToMicros(TimeBounds.Microsecond(start))));
        if (to is { } end) filter.Add($"{column} < $to", ("$to", ToMicros(TimeBounds.Microsecond(end))));
    }

    /// <summary>
    /// One keyset page: the rows of <paramref name="source"/> matching <paramref name="filter"/>, after the cursor in
    /// (sort value, id) order, one more than the page to learn whether another follows; and, when <paramref name="counted"/>,
    /// the count without the cursor (else -1: see <see cref="Page{T}.TotalSize"/>).
    /// </summary>
    private static Page<T> PageOf<T>(
        SqliteConnection connection, SqliteTransaction tx, string source, Filter filter, SortColumn sort, string idColumn,
        int pageSize, SortKey? after, Func<SqliteDataReader, T> read, Func<T, SqliteDataReader, SortKey> keyOf, bool counted = true)
    {
        var direction = sort.Descending ? "desc" : "asc";
        var page = new Filter(filter);
        if (after is not null)
        {
            var afterValue = sort.ParseAfter(after.Value)
                ?? throw new ArgumentException($"the cursor value '{after.Value}' does not fit the order", nameof(after));
            page.Add($"({sort.Expression}, {idColumn}) {(sort.Descending ? "<" : ">")} ($after_value, $after_id)",
                ("$after_value", afterValue), ("$after_id", after.Id));
        }
        using var command = Query(connection, tx,
            $"{source} {page.Where} order by {sort.Expression} {direction}, {idColumn} {direction} limit $limit",
            page.Parameters.Append(("$limit", pageSize + 1)).ToArray());
        var items = new List<T>();
        SortKey? lastKey = null, next = null;
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (items.Count == pageSize)
                {
                    next = lastKey;
                    break;
                }
                items.Add(read(reader));
                lastKey = keyOf(items[^1], reader);
            }
        }
        if (!counted) return new Page<T>(items, next, -1);
        using var count = Query(connection, tx, $"select count(*) from ({source} {filter.Where})", filter.Parameters.ToArray());
        return new Page<T>(items, next, (long)count.ExecuteScalar()!);
    }

    private static string Prefixed(string alias, string columns) =>
        string.Join(", ", columns.Split(',', StringSplitOptions.TrimEntries).Select(c => alias + c));

    /// <summary>Conditions and their parameters, ANDed.</summary>
    private sealed class Filter
    {
        private readonly List<string> conditions = [];

        public Filter() { }

        public Filter(Filter other)
        {
            conditions.AddRange(other.conditions);
            Parameters.AddRange(other.Parameters);
        }

        public List<(string Name, object? Value)> Parameters { get; } = [];

        public string Where => conditions.Count == 0 ? "" : "where " + string.Join(" and ", conditions);

        public Filter Add(string condition, params (string Name, object? Value)[] parameters)
        {
            conditions.Add(condition);
            Parameters.AddRange(parameters);
            return this;
        }
    }
}
