using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Orders;
using GrpcBank.Application.Payments;
using GrpcBank.Application.ReadSide;
using Microsoft.Data.Sqlite;
using static GrpcBank.Sqlite.SqliteEventStore;

namespace GrpcBank.Sqlite;

/// <summary>
/// The embedded read store. Views and the applied watermark change in one transaction. The views are
/// disposable: when the schema version changes the tables are dropped and rebuilt from the event store.
/// </summary>
public sealed class SqliteReadStore : IReadStore, IDisposable
{
    private const int SchemaVersion = 2;

    private const string DropAll = """
        drop table if exists accounts; drop table if exists transactions; drop table if exists orders;
        drop table if exists payments; drop table if exists checkpoint;
        """;

    private static readonly string Schema = $"""
        create table if not exists accounts (
            account_id    text    primary key,
            owner_name    text    not null,
            currency_code text    not null,
            balance_minor integer not null,
            status        text    not null,
            version       integer not null,
            opened_at     integer not null,
            updated_at    integer not null
        );
        create table if not exists transactions (
            transaction_id      text    primary key,
            account_id          text    not null,
            kind                text    not null,
            amount_minor        integer not null,
            currency_code       text    not null,
            balance_after_minor integer not null,
            occurred_at         integer not null,
            reference           text    not null,
            payment_id          text    not null,
            order_id            text    not null,
            position            integer not null
        );
        create index if not exists transactions_by_account on transactions (account_id, position);
        create table if not exists orders (
            order_id            text    primary key,
            customer_account_id text    not null,
            merchant_account_id text    not null,
            amount_minor        integer not null,
            currency_code       text    not null,
            description         text    not null,
            status              text    not null,
            payment_id          text    not null,
            cancellation_reason text    not null,
            placed_at           integer not null,
            updated_at          integer not null,
            version             integer not null
        );
        create table if not exists payments (
            payment_id      text    primary key,
            order_id        text    not null,
            from_account_id text    not null,
            to_account_id   text    not null,
            amount_minor    integer not null,
            currency_code   text    not null,
            status          text    not null,
            failure_reason  text    not null,
            created_at      integer not null,
            updated_at      integer not null,
            version         integer not null
        );
        create table if not exists checkpoint (
            id       integer primary key check (id = 1),
            position integer not null
        );
        insert or ignore into checkpoint (id, position) values (1, 0);
        pragma user_version = {SchemaVersion};
        """;

    private readonly SqliteDatabase db;

    public SqliteReadStore(string path)
    {
        db = new SqliteDatabase(path, "");
        using var connection = db.Open();
        using var version = connection.CreateCommand();
        version.CommandText = "pragma user_version";
        if ((long)version.ExecuteScalar()! != SchemaVersion) SqliteDatabase.Execute(connection, DropAll);
        SqliteDatabase.Execute(connection, Schema);
    }

    public Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            foreach (var e in events) Apply(connection, tx, e);
            using var checkpoint = SqliteDatabase.Command(connection, tx,
                "update checkpoint set position = max(position, $watermark)", ("$watermark", watermark));
            return checkpoint.ExecuteNonQuery();
        }, ct);

    private static void Apply(SqliteConnection connection, SqliteTransaction tx, RecordedEvent e)
    {
        if (AccountProjection.Handles(e))
        {
            if (AccountProjection.Apply(FindAccount(connection, tx, IdOf(e)), e) is not { } applied) return;
            Upsert(connection, tx, applied.View);
            if (applied.Line is { } line) Insert(connection, tx, line);
        }
        else if (OrderProjection.Handles(e))
        {
            if (OrderProjection.Apply(FindOrder(connection, tx, IdOf(e)), e) is { } order) Upsert(connection, tx, order);
        }
        else if (PaymentProjection.Handles(e))
        {
            if (PaymentProjection.Apply(FindPayment(connection, tx, IdOf(e)), e) is { } payment) Upsert(connection, tx, payment);
        }
    }

    /// <summary>The aggregate id of a stream id such as account-42.</summary>
    private static string IdOf(RecordedEvent e) => e.StreamId[(e.StreamId.IndexOf('-') + 1)..];

    public Task<long> AppliedPositionAsync(CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            using var command = SqliteDatabase.Command(connection, tx, "select position from checkpoint");
            return (long)command.ExecuteScalar()!;
        }));

    public Task<AccountView?> GetAccountAsync(string accountId, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) => FindAccount(connection, tx, accountId)));

    public Task<OrderView?> GetOrderAsync(string orderId, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) => FindOrder(connection, tx, orderId)));

    public Task<PaymentView?> GetPaymentAsync(string paymentId, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) => FindPayment(connection, tx, paymentId)));

    public Task<Page<AccountView>> SearchAccountsAsync(AccountSearch query, CancellationToken ct) => throw new NotImplementedException();

    public Task<Page<TransactionView>> ListTransactionsAsync(TransactionQuery query, CancellationToken ct) => throw new NotImplementedException();

    public Task<TransactionSummary> SummarizeTransactionsAsync(SummaryQuery query, CancellationToken ct) => throw new NotImplementedException();

    public Task<Page<OrderView>> SearchOrdersAsync(OrderSearch query, CancellationToken ct) => throw new NotImplementedException();

    public Task<Page<PaymentView>> SearchPaymentsAsync(PaymentSearch query, CancellationToken ct) => throw new NotImplementedException();

    private static T? FindOne<T>(SqliteConnection connection, SqliteTransaction tx, string sql, string id, Func<SqliteDataReader, T> map)
        where T : class
    {
        using var command = SqliteDatabase.Command(connection, tx, sql, ("$id", id));
        using var reader = command.ExecuteReader();
        return reader.Read() ? map(reader) : null;
    }

    private static AccountView? FindAccount(SqliteConnection connection, SqliteTransaction tx, string accountId) =>
        FindOne(connection, tx, """
            select account_id, owner_name, currency_code, balance_minor, status, version, opened_at, updated_at
            from accounts where account_id = $id
            """, accountId,
            r => new AccountView(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
                Enum.Parse<AccountViewStatus>(r.GetString(4)), r.GetInt64(5), FromMicros(r.GetInt64(6)), FromMicros(r.GetInt64(7))));

    private static OrderView? FindOrder(SqliteConnection connection, SqliteTransaction tx, string orderId) =>
        FindOne(connection, tx, """
            select order_id, customer_account_id, merchant_account_id, amount_minor, currency_code, description, status,
                   payment_id, cancellation_reason, placed_at, updated_at, version
            from orders where order_id = $id
            """, orderId,
            r => new OrderView(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetString(5),
                Enum.Parse<OrderViewStatus>(r.GetString(6)), r.GetString(7), r.GetString(8),
                FromMicros(r.GetInt64(9)), FromMicros(r.GetInt64(10)), r.GetInt64(11)));

    private static PaymentView? FindPayment(SqliteConnection connection, SqliteTransaction tx, string paymentId) =>
        FindOne(connection, tx, """
            select payment_id, order_id, from_account_id, to_account_id, amount_minor, currency_code, status, failure_reason,
                   created_at, updated_at, version
            from payments where payment_id = $id
            """, paymentId,
            r => new PaymentView(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetString(5),
                Enum.Parse<PaymentViewStatus>(r.GetString(6)), r.GetString(7),
                FromMicros(r.GetInt64(8)), FromMicros(r.GetInt64(9)), r.GetInt64(10)));

    // Every upsert carries a version guard: a redelivered or out-of-date write changes nothing.

    private static void Upsert(SqliteConnection connection, SqliteTransaction tx, AccountView v) =>
        Execute(connection, tx, """
            insert into accounts (account_id, owner_name, currency_code, balance_minor, status, version, opened_at, updated_at)
            values ($id, $owner, $currency, $balance, $status, $version, $opened, $updated)
            on conflict (account_id) do update set
                owner_name = excluded.owner_name, currency_code = excluded.currency_code,
                balance_minor = excluded.balance_minor, status = excluded.status, version = excluded.version,
                opened_at = excluded.opened_at, updated_at = excluded.updated_at
            where excluded.version > accounts.version
            """,
            ("$id", v.AccountId), ("$owner", v.OwnerName), ("$currency", v.CurrencyCode), ("$balance", v.BalanceMinor),
            ("$status", v.Status.ToString()), ("$version", v.Version),
            ("$opened", ToMicros(v.OpenedAt)), ("$updated", ToMicros(v.UpdatedAt)));

    private static void Upsert(SqliteConnection connection, SqliteTransaction tx, OrderView v) =>
        Execute(connection, tx, """
            insert into orders (order_id, customer_account_id, merchant_account_id, amount_minor, currency_code, description,
                                status, payment_id, cancellation_reason, placed_at, updated_at, version)
            values ($id, $customer, $merchant, $amount, $currency, $description, $status, $payment, $reason, $placed, $updated, $version)
            on conflict (order_id) do update set
                status = excluded.status, cancellation_reason = excluded.cancellation_reason,
                updated_at = excluded.updated_at, version = excluded.version
            where excluded.version > orders.version
            """,
            ("$id", v.OrderId), ("$customer", v.CustomerAccountId), ("$merchant", v.MerchantAccountId), ("$amount", v.AmountMinor),
            ("$currency", v.CurrencyCode), ("$description", v.Description), ("$status", v.Status.ToString()),
            ("$payment", v.PaymentId), ("$reason", v.CancellationReason), ("$placed", ToMicros(v.PlacedAt)),
            ("$updated", ToMicros(v.UpdatedAt)), ("$version", v.Version));

    private static void Upsert(SqliteConnection connection, SqliteTransaction tx, PaymentView v) =>
        Execute(connection, tx, """
            insert into payments (payment_id, order_id, from_account_id, to_account_id, amount_minor, currency_code, status,
                                  failure_reason, created_at, updated_at, version)
            values ($id, $order, $from, $to, $amount, $currency, $status, $reason, $created, $updated, $version)
            on conflict (payment_id) do update set
                status = excluded.status, failure_reason = excluded.failure_reason,
                updated_at = excluded.updated_at, version = excluded.version
            where excluded.version > payments.version
            """,
            ("$id", v.PaymentId), ("$order", v.OrderId), ("$from", v.FromAccountId), ("$to", v.ToAccountId),
            ("$amount", v.AmountMinor), ("$currency", v.CurrencyCode), ("$status", v.Status.ToString()),
            ("$reason", v.FailureReason), ("$created", ToMicros(v.CreatedAt)), ("$updated", ToMicros(v.UpdatedAt)),
            ("$version", v.Version));

    private static void Insert(SqliteConnection connection, SqliteTransaction tx, TransactionView t) =>
        Execute(connection, tx, """
            insert or ignore into transactions (transaction_id, account_id, kind, amount_minor, currency_code,
                                                balance_after_minor, occurred_at, reference, payment_id, order_id, position)
            values ($id, $account, $kind, $amount, $currency, $balance, $at, $reference, $payment, $order, $position)
            """,
            ("$id", t.TransactionId), ("$account", t.AccountId), ("$kind", t.Kind.ToString()), ("$amount", t.AmountMinor),
            ("$currency", t.CurrencyCode), ("$balance", t.BalanceAfterMinor), ("$at", ToMicros(t.OccurredAt)),
            ("$reference", t.Reference), ("$payment", t.PaymentId), ("$order", t.OrderId), ("$position", t.Position));

    private static void Execute(SqliteConnection connection, SqliteTransaction tx, string sql, params (string, object?)[] parameters)
    {
        using var command = SqliteDatabase.Command(connection, tx, sql, parameters);
        command.ExecuteNonQuery();
    }

    public void Dispose() => db.Dispose();
}
