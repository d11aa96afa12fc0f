using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Orders;
using GrpcBank.Application.Payments;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain;
using Npgsql;
using NpgsqlTypes;

namespace GrpcBank.Postgres.ReadStore;

/// <summary>
/// The read store shared by every server on one PostgreSQL. A batch is applied in one transaction: the views it
/// touches are read once, folded in memory, written back with version guards, and the watermark moves with them.
/// A store is either one generation (its own schema, while a rebuild fills it) or the serving one: queries read
/// through the views of the prefix schema, and a batch writes to the generation the pointer names, read under a
/// share lock so a switch waits for it (<see cref="PostgresReadStoreGenerations"/>).
/// </summary>
public sealed partial class PostgresReadStore : IReadStore
{
    private readonly RecentConnections connections;
    private readonly string prefix;
    private volatile string? generation;

    /// <param name="generation">The generation's schema; null: whichever generation serves.</param>
    internal PostgresReadStore(RecentConnections connections, string prefix, string? generation)
    {
        this.connections = connections;
        this.prefix = prefix;
        this.generation = generation;
    }

    /// <summary>The schema this store reads and writes; null while it follows the serving generation.</summary>
    public string? Generation => generation;

    /// <summary>From now on this store serves whichever generation the pointer names (after it was switched to).</summary>
    internal void FollowServing() => generation = null;

    private string ReadSchema => generation ?? prefix;

    public async Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        await using var tx = await connection.BeginTransactionAsync(ct);
        var schema = generation ?? await PostgresReadStoreGenerations.ServingAsync(connection, tx, prefix, forShare: true, ct);
        var views = await ViewsOf.LoadAsync(connection, tx, schema, events, ct);
        var batch = new NpgsqlBatch(connection, tx);
        foreach (var e in events) Apply(views, batch, schema, e);
        foreach (var account in views.ChangedAccounts) batch.BatchCommands.Add(Upsert(schema, account));
        foreach (var order in views.ChangedOrders) batch.BatchCommands.Add(Upsert(schema, order));
        foreach (var payment in views.ChangedPayments) batch.BatchCommands.Add(Upsert(schema, payment));
        batch.BatchCommands.Add(Command($"update {schema}.checkpoint set position = greatest(position, @watermark)", ("watermark", watermark)));
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    private static void Apply(ViewsOf views, NpgsqlBatch batch, string schema, RecordedEvent e)
    {
        var id = StreamIds.AggregateIdOf(e.StreamId);
        if (AccountProjection.Handles(e))
        {
            var current = views.Accounts.GetValueOrDefault(id);
            if (AccountProjection.Apply(current, e) is not { } applied) return;
            views.Change(applied.View);
            if (current is null)
                batch.BatchCommands.Add(Command($"insert into {schema}.owner_terms (term) select unnest({Folded("terms")}) on conflict do nothing",
                    ("terms", Words(applied.View.OwnerName))));
            if (applied.Line is { } line) batch.BatchCommands.Add(Insert(schema, line));
            if (applied.Hold is { } hold) batch.BatchCommands.Add(Change(schema, hold));
        }
        else if (OrderProjection.Handles(e))
        {
            if (OrderProjection.Apply(views.Orders.GetValueOrDefault(id), e) is { } order) views.Change(order);
        }
        else if (PaymentProjection.Handles(e))
        {
            if (PaymentProjection.Apply(views.Payments.GetValueOrDefault(id), e) is { } payment) views.Change(payment);
        }
    }

    public async Task<long> AppliedPositionAsync(CancellationToken ct) =>
        await ScalarAsync<long>($"select position from {ReadSchema}.checkpoint", ct);

    public Task<AccountView?> GetAccountAsync(string accountId, CancellationToken ct) =>
        FindAsync($"select {AccountColumns} from {ReadSchema}.accounts where account_id = @id", accountId, ReadAccount, ct);

    public Task<OrderView?> GetOrderAsync(string orderId, CancellationToken ct) =>
        FindAsync($"select {OrderColumns} from {ReadSchema}.orders where order_id = @id", orderId, ReadOrder, ct);

    public Task<PaymentView?> GetPaymentAsync(string paymentId, CancellationToken ct) =>
        FindAsync($"select {PaymentColumns} from {ReadSchema}.payments where payment_id = @id", paymentId, ReadPayment, ct);

    private async Task<T?> FindAsync<T>(string sql, string id, Func<NpgsqlDataReader, T> read, CancellationToken ct) where T : class
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, rented.Connection);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? read(reader) : null;
    }

    private async Task<T> ScalarAsync<T>(string sql, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, rented.Connection);
        return (T)(await command.ExecuteScalarAsync(ct))!;
    }

    internal const string AccountColumns = """
        account_id, owner_name, currency_code, balance_minor, status, version, opened_at, updated_at,
        held_minor, overdraft_limit_minor, debits_blocked, credits_blocked
        """;

    internal const string HoldColumns = """
        account_id, hold_id, amount_minor, captured_minor, currency_code, status, reference, expires_at, placed_at, updated_at, position
        """;

    internal const string OrderColumns = """
        order_id, customer_account_id, merchant_account_id, amount_minor, currency_code, description, status,
        payment_id, cancellation_reason, placed_at, updated_at, version
        """;

    internal const string PaymentColumns = """
        payment_id, order_id, from_account_id, to_account_id, amount_minor, currency_code, status, failure_reason,
        created_at, updated_at, version
        """;

    internal const string TransactionColumns = """
        transaction_id, account_id, kind, amount_minor, currency_code, balance_after_minor, occurred_at, reference,
        payment_id, order_id, position
        """;

    private static DateTimeOffset At(NpgsqlDataReader r, int i) => new(r.GetFieldValue<DateTime>(i), TimeSpan.Zero);

    internal static AccountView ReadAccount(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
            Enum.Parse<AccountViewStatus>(r.GetString(4)), r.GetInt64(5), At(r, 6), At(r, 7))
        {
            HeldMinor = r.GetInt64(8), OverdraftLimitMinor = r.GetInt64(9), DebitsBlocked = r.GetBoolean(10), CreditsBlocked = r.GetBoolean(11),
        };

    internal static HoldView ReadHold(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetString(4), Enum.Parse<HoldViewStatus>(r.GetString(5)),
            r.GetString(6), At(r, 7), At(r, 8), At(r, 9), r.GetInt64(10));

    internal static OrderView ReadOrder(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetString(5),
            Enum.Parse<OrderViewStatus>(r.GetString(6)), r.GetString(7), r.GetString(8), At(r, 9), At(r, 10), r.GetInt64(11));

    internal static PaymentView ReadPayment(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetString(5),
            Enum.Parse<PaymentViewStatus>(r.GetString(6)), r.GetString(7), At(r, 8), At(r, 9), r.GetInt64(10));

    internal static TransactionView ReadTransaction(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetString(1), Enum.Parse<TransactionKind>(r.GetString(2)), r.GetInt64(3), r.GetString(4),
            r.GetInt64(5), At(r, 6), r.GetString(7), r.GetString(8), r.GetString(9), r.GetInt64(10));

    /// <summary>timestamptz takes UTC only; microseconds are kept, as in every store.</summary>
    internal static DateTime Utc(DateTimeOffset at) => at.UtcDateTime;

    // Every upsert carries a version guard: a redelivered or out-of-date write changes nothing.

    private static NpgsqlBatchCommand Upsert(string schema, AccountView v) => Command($"""
        insert into {schema}.accounts as a (account_id, owner_name, owner_words, currency_code, balance_minor, status, version, opened_at, updated_at,
                                            held_minor, overdraft_limit_minor, debits_blocked, credits_blocked)
        values (@id, @owner, {Folded("words")}, @currency, @balance, @status, @version, @opened, @updated, @held, @limit, @debits, @credits)
        on conflict (account_id) do update set
            owner_name = excluded.owner_name, owner_words = excluded.owner_words, currency_code = excluded.currency_code,
            balance_minor = excluded.balance_minor, status = excluded.status, version = excluded.version,
            opened_at = excluded.opened_at, updated_at = excluded.updated_at, held_minor = excluded.held_minor,
            overdraft_limit_minor = excluded.overdraft_limit_minor, debits_blocked = excluded.debits_blocked,
            credits_blocked = excluded.credits_blocked
        where excluded.version > a.version
        """,
        ("id", v.AccountId), ("owner", v.OwnerName), ("words", Words(v.OwnerName)),
        ("currency", v.CurrencyCode), ("balance", v.BalanceMinor), ("status", v.Status.ToString()), ("version", v.Version),
        ("opened", Utc(v.OpenedAt)), ("updated", Utc(v.UpdatedAt)), ("held", v.HeldMinor), ("limit", v.OverdraftLimitMinor),
        ("debits", v.DebitsBlocked), ("credits", v.CreditsBlocked));

    // A hold changes only with its account's view (whose version guard has already passed), in the same transaction;
    // the position guard keeps a resolved hold from being overwritten by an older write all the same. Batch commands
    // run in order, so a hold placed and resolved in one batch is inserted before it is updated.
    private static NpgsqlBatchCommand Change(string schema, HoldChange change) => change switch
    {
        HoldChange.Placed { Hold: var h } => Command($"""
            insert into {schema}.holds (account_id, hold_id, amount_minor, captured_minor, currency_code, status, reference,
                                        expires_at, placed_at, updated_at, position)
            values (@account, @hold, @amount, @captured, @currency, @status, @reference, @expires, @placed, @updated, @position)
            on conflict (account_id, hold_id) do nothing
            """,
            ("account", h.AccountId), ("hold", h.HoldId), ("amount", h.AmountMinor), ("captured", h.CapturedMinor),
            ("currency", h.CurrencyCode), ("status", h.Status.ToString()), ("reference", h.Reference),
            ("expires", Utc(h.ExpiresAt)), ("placed", Utc(h.PlacedAt)), ("updated", Utc(h.UpdatedAt)), ("position", h.Position)),
        HoldChange.Resolved r => Command($"""
            update {schema}.holds set status = @status, captured_minor = @captured, updated_at = @updated, position = @position
            where account_id = @account and hold_id = @hold and position < @position
            """,
            ("account", r.AccountId), ("hold", r.HoldId), ("status", r.Status.ToString()), ("captured", r.CapturedMinor),
            ("updated", Utc(r.At)), ("position", r.Position)),
        _ => throw new ArgumentOutOfRangeException(nameof(change), change, "an unknown hold change"),
    };

    private static NpgsqlBatchCommand Upsert(string schema, OrderView v) => Command($"""
        insert into {schema}.orders as o (order_id, customer_account_id, merchant_account_id, amount_minor, currency_code, description,
                            description_words, status, payment_id, cancellation_reason, placed_at, updated_at, version)
        values (@id, @customer, @merchant, @amount, @currency, @description, {Folded("words")}, @status, @payment, @reason, @placed, @updated, @version)
        on conflict (order_id) do update set
            status = excluded.status, cancellation_reason = excluded.cancellation_reason,
            updated_at = excluded.updated_at, version = excluded.version
        where excluded.version > o.version
        """,
        ("id", v.OrderId), ("customer", v.CustomerAccountId), ("merchant", v.MerchantAccountId), ("amount", v.AmountMinor),
        ("currency", v.CurrencyCode), ("description", v.Description), ("words", Words(v.Description)),
        ("status", v.Status.ToString()), ("payment", v.PaymentId), ("reason", v.CancellationReason),
        ("placed", Utc(v.PlacedAt)), ("updated", Utc(v.UpdatedAt)), ("version", v.Version));

    private static NpgsqlBatchCommand Upsert(string schema, PaymentView v) => Command($"""
        insert into {schema}.payments as p (payment_id, order_id, from_account_id, to_account_id, amount_minor, currency_code, status,
                              failure_reason, created_at, updated_at, version)
        values (@id, @order, @from, @to, @amount, @currency, @status, @reason, @created, @updated, @version)
        on conflict (payment_id) do update set
            status = excluded.status, failure_reason = excluded.failure_reason,
            updated_at = excluded.updated_at, version = excluded.version
        where excluded.version > p.version
        """,
        ("id", v.PaymentId), ("order", v.OrderId), ("from", v.FromAccountId), ("to", v.ToAccountId), ("amount", v.AmountMinor),
        ("currency", v.CurrencyCode), ("status", v.Status.ToString()), ("reason", v.FailureReason),
        ("created", Utc(v.CreatedAt)), ("updated", Utc(v.UpdatedAt)), ("version", v.Version));

    private static NpgsqlBatchCommand Insert(string schema, TransactionView t) => Command($"""
        insert into {schema}.transactions (transaction_id, account_id, kind, amount_minor, currency_code, balance_after_minor,
                                           occurred_at, reference, payment_id, order_id, position)
        values (@id, @account, @kind, @amount, @currency, @balance, @at, @reference, @payment, @order, @position)
        on conflict (transaction_id) do nothing
        """,
        ("id", t.TransactionId), ("account", t.AccountId), ("kind", t.Kind.ToString()), ("amount", t.AmountMinor),
        ("currency", t.CurrencyCode), ("balance", t.BalanceAfterMinor), ("at", Utc(t.OccurredAt)), ("reference", t.Reference),
        ("payment", t.PaymentId), ("order", t.OrderId), ("position", t.Position));

    /// <summary>The searchable words of a text: SearchText's tokens, to be folded by <see cref="Folded"/>.</summary>
    private static string[] Words(string text) => SearchText.Tokens(text).Distinct().ToArray();

    /// <summary>
    /// SQL for the words in parameter <paramref name="parameter"/> with diacritics removed, once each. SearchText folds only
    /// letters whose decomposition is a base letter and marks; unaccent also folds those without one (ø, æ, ß), as the
    /// words stored by earlier releases were.
    /// </summary>
    internal static string Folded(string parameter) =>
        $"(select coalesce(array_agg(distinct unaccent(w.word)), '{{}}') from unnest(@{parameter}::text[]) as w (word))";

    internal static NpgsqlBatchCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters) command.Parameters.Add(Parameter(name, value));
        return command;
    }

    internal static NpgsqlParameter Parameter(string name, object? value) => value switch
    {
        string[] texts => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = texts },
        _ => new NpgsqlParameter(name, value ?? DBNull.Value),
    };

    /// <summary>The views a batch touches, read once at its start and folded in memory; what changed is written back.</summary>
    private sealed class ViewsOf
    {
        public Dictionary<string, AccountView> Accounts { get; } = [];
        public Dictionary<string, OrderView> Orders { get; } = [];
        public Dictionary<string, PaymentView> Payments { get; } = [];
        private readonly HashSet<string> changedAccounts = [], changedOrders = [], changedPayments = [];

        public IEnumerable<AccountView> ChangedAccounts => changedAccounts.Select(id => Accounts[id]);
        public IEnumerable<OrderView> ChangedOrders => changedOrders.Select(id => Orders[id]);
        public IEnumerable<PaymentView> ChangedPayments => changedPayments.Select(id => Payments[id]);

        public void Change(AccountView v) { Accounts[v.AccountId] = v; changedAccounts.Add(v.AccountId); }
        public void Change(OrderView v) { Orders[v.OrderId] = v; changedOrders.Add(v.OrderId); }
        public void Change(PaymentView v) { Payments[v.PaymentId] = v; changedPayments.Add(v.PaymentId); }

        public static async Task<ViewsOf> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string schema, IReadOnlyList<RecordedEvent> events, CancellationToken ct)
        {
            var views = new ViewsOf();
            if (events.Count == 0) return views;
            string[] IdsOf(Func<RecordedEvent, bool> handles) =>
                events.Where(handles).Select(e => StreamIds.AggregateIdOf(e.StreamId)).Distinct().ToArray();
            await using var batch = new NpgsqlBatch(connection, tx)
            {
                BatchCommands =
                {
                    Command($"select {AccountColumns} from {schema}.accounts where account_id = any(@ids)", ("ids", IdsOf(AccountProjection.Handles))),
                    Command($"select {OrderColumns} from {schema}.orders where order_id = any(@ids)", ("ids", IdsOf(OrderProjection.Handles))),
                    Command($"select {PaymentColumns} from {schema}.payments where payment_id = any(@ids)", ("ids", IdsOf(PaymentProjection.Handles))),
                },
            };
            await using var reader = await batch.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) { var a = ReadAccount(reader); views.Accounts[a.AccountId] = a; }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct)) { var o = ReadOrder(reader); views.Orders[o.OrderId] = o; }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct)) { var p = ReadPayment(reader); views.Payments[p.PaymentId] = p; }
            return views;
        }
    }
}
