using GrpcBank.Application.ReadSide;
using Npgsql;

namespace GrpcBank.Postgres.ReadStore;

// Searches, statements and summaries. Every query is assembled from fixed SQL fragments chosen by the query's shape;
// values only ever travel as parameters (the text search too: a tsquery parameter built from quoted tokens).
public sealed partial class PostgresReadStore
{
    /// <summary>Typo candidates taken per query token (nearest by trigram distance), before re-ranking in C#.</summary>
    private const int TypoCandidates = 200;

    /// <summary>
    /// Sees each query's statement and parameters, on its connection, before it runs, so QueryPlanSpecs explain the
    /// statements the store really runs. Per async flow: only the code that sets it sees anything; never set in a server.
    /// </summary>
    internal static readonly AsyncLocal<Func<NpgsqlConnection, string, NpgsqlParameterCollection, Task>?> QueryObserver = new();

    private static Task ObserveAsync(NpgsqlConnection connection, string sql, NpgsqlParameterCollection parameters) =>
        QueryObserver.Value?.Invoke(connection, sql, parameters) ?? Task.CompletedTask;

    private sealed record SortColumn(string Column, bool Descending, Func<string, object?> ParseAfter);

    private static object? ParseTime(string value) => SortValues.ParseTime(value) is { } at ? Utc(at) : null;

    private static readonly IReadOnlyDictionary<AccountOrder, SortColumn> AccountSorts = new Dictionary<AccountOrder, SortColumn>
    {
        [AccountOrder.Relevance] = new("score", false, v => SortValues.ParseScore(v)),
        [AccountOrder.OwnerName] = new("owner_name", false, v => v),
        [AccountOrder.OwnerNameDesc] = new("owner_name", true, v => v),
        [AccountOrder.BalanceMinor] = new("balance_minor", false, v => SortValues.ParseNumber(v)),
        [AccountOrder.BalanceMinorDesc] = new("balance_minor", true, v => SortValues.ParseNumber(v)),
        [AccountOrder.OpenedAt] = new("opened_at", false, ParseTime),
        [AccountOrder.OpenedAtDesc] = new("opened_at", true, ParseTime),
    };

    public async Task<Page<AccountView>> SearchAccountsAsync(AccountSearch query, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        var tokens = await FoldAsync(connection, SearchText.Tokens(query.Text), ct);
        var filter = new Filter();
        var score = "0.0::float8";
        if (tokens.Count == 0)
        {
            if (SearchText.FindsNothing(query.Text, tokens)) filter.Add("false");
        }
        else
        {
            // Per query token: the token as a prefix (cost 0) or one of its corrections from the vocabulary (cost: edit
            // distance plus how early they part ways, SearchText's ranking). Every token must match (the tsquery, on
            // the GIN index); the score sums each token's cheapest match among the name's words.
            var corrections = await CorrectionsAsync(connection, tokens, ct);
            var matches = tokens.Select((t, i) => (Token: i, Term: t, Cost: 0.0, Prefix: true))
                .Concat(corrections.Select(c => (c.Token, c.Term, c.Cost, Prefix: false)))
                .ToList();
            filter.Add("a.owner_search @@ @match::tsquery", ("match", TsQuery(tokens.Select((t, i) =>
                corrections.Where(c => c.Token == i).Select(c => Lexeme(c.Term)).Prepend(Lexeme(t) + ":*")))));
            filter.Parameters.AddRange([
                ("m_token", matches.Select(m => m.Token).ToArray()), ("m_term", matches.Select(m => m.Term).ToArray()),
                ("m_cost", matches.Select(m => m.Cost).ToArray()), ("m_prefix", matches.Select(m => m.Prefix).ToArray()),
            ]);
            score = """
                (select round(coalesce(sum(best.cost), 0)::numeric, 9)::float8 from (
                    select min(m.cost) as cost
                    from unnest(a.owner_words) as w (word)
                    join unnest(@m_token, @m_term, @m_cost, @m_prefix) as m (token, term, cost, prefix)
                      on case when m.prefix then starts_with(w.word, m.term) else w.word = m.term end
                    group by m.token) best)
                """;
        }
        if (query.Status is { } status) filter.Add("a.status = @status", ("status", status.ToString()));
        if (query.CurrencyCode is { } currency) filter.Add("a.currency_code = @currency", ("currency", currency));
        var sort = AccountSorts[query.Order];
        return await PageOfAsync(connection, $"select {Prefixed("a.", AccountColumns)}, {score} as score from {ReadSchema}.accounts a",
            filter, sort, "account_id", query.PageSize, query.After, ReadAccount,
            (v, r) => new SortKey(query.Order switch
            {
                AccountOrder.Relevance => SortValues.Score(r.GetDouble(8)),
                AccountOrder.OwnerName or AccountOrder.OwnerNameDesc => v.OwnerName,
                AccountOrder.BalanceMinor or AccountOrder.BalanceMinorDesc => SortValues.Number(v.BalanceMinor),
                _ => SortValues.Time(v.OpenedAt),
            }, v.AccountId), ct);
    }

    /// <summary>Query tokens folded as the stored words are (<see cref="Folded"/>), in their order.</summary>
    private static async Task<IReadOnlyList<string>> FoldAsync(NpgsqlConnection connection, IReadOnlyList<string> tokens, CancellationToken ct)
    {
        if (tokens.Count == 0) return tokens;
        await using var command = new NpgsqlCommand("select array(select unaccent(t.token) from unnest(@tokens) with ordinality as t (token, n) order by t.n)", connection);
        command.Parameters.Add(Parameter("tokens", tokens.ToArray()));
        return (string[])(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Close vocabulary terms per token (tokens of 3 characters or more), chosen and costed by <see cref="SearchText"/>.</summary>
    private async Task<List<(int Token, string Term, double Cost)>> CorrectionsAsync(NpgsqlConnection connection, IReadOnlyList<string> tokens, CancellationToken ct)
    {
        var candidates = tokens.Select(_ => new List<string>()).ToList();
        await using (var command = new NpgsqlCommand($"""
            select k.n, t.term
            from unnest(@tokens) with ordinality as k (token, n)
            cross join lateral (
                select o.term from {ReadSchema}.owner_terms o
                where length(k.token) >= 3
                order by o.term <-> k.token limit @limit) t
            """, connection))
        {
            command.Parameters.Add(Parameter("tokens", tokens.ToArray()));
            command.Parameters.AddWithValue("limit", TypoCandidates);
            await ObserveAsync(connection, command.CommandText, command.Parameters);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) candidates[(int)reader.GetInt64(0) - 1].Add(reader.GetString(1));
        }
        return tokens.SelectMany((token, i) => SearchText.Corrections(token, candidates[i]).Select(term => (i, term, SearchText.Cost(token, term)))).ToList();
    }

    /// <summary>One tsquery lexeme: quoted, inner quotes and backslashes escaped (tokens are letters and digits anyway).</summary>
    private static string Lexeme(string term) => "'" + term.Replace("\\", "\\\\").Replace("'", "''") + "'";

    /// <summary>Alternatives within a token ORed, tokens ANDed.</summary>
    private static string TsQuery(IEnumerable<IEnumerable<string>> alternativesPerToken) =>
        string.Join(" & ", alternativesPerToken.Select(alternatives => "(" + string.Join(" | ", alternatives) + ")"));

    public async Task<Page<TransactionView>> ListTransactionsAsync(TransactionQuery query, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        var filter = new Filter().Add("t.account_id = @account", ("account", query.AccountId));
        AddTimeRange(filter, "t.occurred_at", query.From, query.To);
        return await PageOfAsync(connection, $"select {Prefixed("t.", TransactionColumns)} from {ReadSchema}.transactions t", filter,
            new SortColumn("position", false, v => SortValues.ParseNumber(v)), "transaction_id",
            query.PageSize, query.After, ReadTransaction, (v, _) => new SortKey(SortValues.Number(v.Position), v.TransactionId), ct, counted: false);
    }

    public async Task<Page<HoldView>> ListHoldsAsync(HoldQuery query, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        var filter = new Filter().Add("h.account_id = @account", ("account", query.AccountId));
        return await PageOfAsync(connection, $"select {Prefixed("h.", HoldColumns)} from {ReadSchema}.holds h", filter,
            new SortColumn("placed_at", true, ParseTime), "hold_id",
            query.PageSize, query.After, ReadHold, (v, _) => new SortKey(SortValues.Time(v.PlacedAt), v.HoldId), ct, counted: false);
    }

    /// <summary>
    /// The active holds whose expiry time is up, soonest first (ties by account and hold, as every store). The status is
    /// a literal, not a parameter, so even a generic plan can use the partial index of active holds by expiry.
    /// </summary>
    public async Task<IReadOnlyList<HoldView>> DueHoldsAsync(DateTimeOffset now, int max, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"""
            select {HoldColumns} from {ReadSchema}.holds
            where status = '{nameof(HoldViewStatus.Active)}' and expires_at <= @now order by expires_at, account_id, hold_id limit @max
            """, rented.Connection);
        command.Parameters.AddWithValue("now", Utc(now));
        command.Parameters.AddWithValue("max", max);
        await ObserveAsync(rented.Connection, command.CommandText, command.Parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var due = new List<HoldView>();
        while (await reader.ReadAsync(ct)) due.Add(ReadHold(reader));
        return due;
    }

    public async Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct)
    {
        var filter = new Filter();
        if (query.AccountId is { } account) filter.Add("account_id = @account", ("account", account));
        if (query.CurrencyCode is { } currency) filter.Add("currency_code = @currency", ("currency", currency));
        AddTimeRange(filter, "occurred_at", query.From, query.To);
        filter.Parameters.AddRange([
            ("credits", TransactionKinds.Credits.Select(k => k.ToString()).ToArray()),
            ("debits", TransactionKinds.Debits.Select(k => k.ToString()).ToArray()),
        ]);
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"""
            select date_trunc('day', occurred_at, 'UTC') as day,
                   coalesce(sum(amount_minor) filter (where kind = any(@credits)), 0)::bigint,
                   count(*) filter (where kind = any(@credits)),
                   coalesce(sum(amount_minor) filter (where kind = any(@debits)), 0)::bigint,
                   count(*) filter (where kind = any(@debits))
            from {ReadSchema}.transactions {filter.Where} group by day order by day
            """, rented.Connection);
        command.Parameters.AddRange(filter.Parameters.Select(p => Parameter(p.Name, p.Value)).ToArray());
        await ObserveAsync(rented.Connection, command.CommandText, command.Parameters);
        var days = new List<SummaryBucket>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                days.Add(new SummaryBucket(At(reader, 0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.NumericValueOutOfRange)
        {
            throw new SumOutOfRangeException(e); // a day's sum (numeric) cast to bigint
        }
        return Summaries.Of(days, query.Interval);
    }

    public async Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        var filter = new Filter();
        var tokens = await FoldAsync(connection, SearchText.Tokens(query.Text), ct);
        if (tokens.Count > 0)
            filter.Add("o.description_search @@ @match::tsquery", ("match", TsQuery(tokens.Select(t => new[] { Lexeme(t) + ":*" }))));
        else if (SearchText.FindsNothing(query.Text, tokens))
            filter.Add("false");
        if (query.Status is { } status) filter.Add("o.status = @status", ("status", status.ToString()));
        if (query.CustomerAccountId is { } customer) filter.Add("o.customer_account_id = @customer", ("customer", customer));
        if (query.MerchantAccountId is { } merchant) filter.Add("o.merchant_account_id = @merchant", ("merchant", merchant));
        return await PageOfAsync(connection, $"select {Prefixed("o.", OrderColumns)} from {ReadSchema}.orders o", filter,
            new SortColumn("placed_at", true, ParseTime), "order_id",
            query.PageSize, query.After, ReadOrder, (v, _) => new SortKey(SortValues.Time(v.PlacedAt), v.OrderId), ct);
    }

    public async Task<Page<PaymentView>> SearchPaymentsAsync(PaymentSearch query, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        var filter = new Filter();
        if (query.Status is { } status) filter.Add("p.status = @status", ("status", status.ToString()));
        if (query.AccountId is { } account) filter.Add("(p.from_account_id = @account or p.to_account_id = @account)", ("account", account));
        if (query.OrderId is { } order) filter.Add("p.order_id = @order", ("order", order));
        return await PageOfAsync(connection, $"select {Prefixed("p.", PaymentColumns)} from {ReadSchema}.payments p", filter,
            new SortColumn("created_at", true, ParseTime), "payment_id",
            query.PageSize, query.After, ReadPayment, (v, _) => new SortKey(SortValues.Time(v.CreatedAt), v.PaymentId), ct);
    }

    private static void AddTimeRange(Filter filter, string column, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (from is { } start) filter.Add($"{column} >= @from", ("from", Utc(TimeBounds.Microsecond(start))));
        if (to is { } end) filter.Add($"{column} < @to", ("to", Utc(TimeBounds.Microsecond(end))));
    }

    /// <summary>
    /// One keyset page in one round trip: the rows of <paramref name="source"/> matching <paramref name="filter"/>, after
    /// the cursor in (sort value, id) order, one more than the page to learn whether another follows; and, when
    /// <paramref name="counted"/>, the count without the cursor (else -1: see <see cref="Page{T}.TotalSize"/>).
    /// </summary>
    private static async Task<Page<T>> PageOfAsync<T>(
        NpgsqlConnection connection, string source, Filter filter, SortColumn sort, string idColumn,
        int pageSize, SortKey? after, Func<NpgsqlDataReader, T> read, Func<T, NpgsqlDataReader, SortKey> keyOf, CancellationToken ct,
        bool counted = true)
    {
        var direction = sort.Descending ? "desc" : "asc";
        var cursor = "";
        var parameters = filter.Parameters.ToList();
        if (after is not null)
        {
            var afterValue = sort.ParseAfter(after.Value)
                ?? throw new ArgumentException($"the cursor value '{after.Value}' does not fit the order", nameof(after));
            cursor = $"where (x.{sort.Column}, x.{idColumn}) {(sort.Descending ? "<" : ">")} (@after_value, @after_id)";
            parameters.AddRange([("after_value", afterValue), ("after_id", after.Id)]);
        }
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                Command($"select * from ({source} {filter.Where}) x {cursor} order by x.{sort.Column} {direction}, x.{idColumn} {direction} limit @limit",
                    [.. parameters, ("limit", pageSize + 1)]),
            },
        };
        if (counted) batch.BatchCommands.Add(Command($"select count(*) from ({source} {filter.Where}) x", [.. filter.Parameters]));
        foreach (NpgsqlBatchCommand statement in batch.BatchCommands) await ObserveAsync(connection, statement.CommandText, statement.Parameters);
        await using var reader = await batch.ExecuteReaderAsync(ct);
        var items = new List<T>();
        SortKey? lastKey = null, next = null;
        while (await reader.ReadAsync(ct))
        {
            if (items.Count == pageSize)
            {
                next = lastKey;
                break;
            }
            items.Add(read(reader));
            lastKey = keyOf(items[^1], reader);
        }
        if (!counted) return new Page<T>(items, next, -1);
        while (await reader.ReadAsync(ct)) { }
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        return new Page<T>(items, next, reader.GetInt64(0));
    }

    private static string Prefixed(string alias, string columns) =>
        string.Join(", ", columns.Split(',', StringSplitOptions.TrimEntries).Select(c => alias + c));

    /// <summary>Conditions and their parameters, ANDed.</summary>
    private sealed class Filter
    {
        private readonly List<string> conditions = [];

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
