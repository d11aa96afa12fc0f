using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using Microsoft.Data.Sqlite;

namespace GrpcBank.Sqlite;

/// <summary>The embedded read store. Views and the applied watermark change in one transaction.</summary>
public sealed class SqliteReadStore : IReadStore
{
    private const string Schema = """
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
            position            integer not null
        );
        create index if not exists transactions_by_account on transactions (account_id, position);
        create table if not exists checkpoint (
            id       integer primary key check (id = 1),
            position integer not null
        );
        insert or ignore into checkpoint (id, position) values (1, 0);
        """;

    private readonly SqliteDatabase db;

    public SqliteReadStore(string path) => db = new SqliteDatabase(path, Schema);

    public Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            foreach (var e in events.Where(AccountProjection.Handles))
            {
                var accountId = e.StreamId["account-".Length..];
                if (AccountProjection.Apply(FindAccount(connection, tx, accountId), e) is not { } applied) continue;
                var (view, line) = applied;
                Upsert(connection, tx, view);
                if (line is not null) Insert(connection, tx, line);
            }
            using var checkpoint = SqliteDatabase.Command(connection, tx,
                "update checkpoint set position = max(position, $watermark)", ("$watermark", watermark));
            return checkpoint.ExecuteNonQuery();
        }, ct);

    public Task<long> AppliedPositionAsync(CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            using var command = SqliteDatabase.Command(connection, tx, "select position from checkpoint");
            return (long)command.ExecuteScalar()!;
        }));

    public Task<AccountView?> GetAccountAsync(string accountId, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) => FindAccount(connection, tx, accountId)));

    private static AccountView? FindAccount(SqliteConnection connection, SqliteTransaction tx, string accountId)
    {
        using var command = SqliteDatabase.Command(connection, tx, """
            select account_id, owner_name, currency_code, balance_minor, status, version, opened_at, updated_at
            from accounts where account_id = $id
            """, ("$id", accountId));
        using var r = command.ExecuteReader();
        return r.Read()
            ? new AccountView(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
                Enum.Parse<AccountViewStatus>(r.GetString(4)), r.GetInt64(5),
                SqliteEventStore.FromMicros(r.GetInt64(6)), SqliteEventStore.FromMicros(r.GetInt64(7)))
            : null;
    }

    private static void Upsert(SqliteConnection connection, SqliteTransaction tx, AccountView v)
    {
        // The version guard makes a redelivered or out-of-date write a no-op.
        using var command = SqliteDatabase.Command(connection, tx, """
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
            ("$opened", SqliteEventStore.ToMicros(v.OpenedAt)), ("$updated", SqliteEventStore.ToMicros(v.UpdatedAt)));
        command.ExecuteNonQuery();
    }

    private static void Insert(SqliteConnection connection, SqliteTransaction tx, TransactionView t)
    {
        using var command = SqliteDatabase.Command(connection, tx, """
            insert or ignore into transactions
                (transaction_id, account_id, kind, amount_minor, currency_code, balance_after_minor, occurred_at, reference, position)
            values ($id, $account, $kind, $amount, $currency, $balance, $at, $reference, $position)
            """,
            ("$id", t.TransactionId), ("$account", t.AccountId), ("$kind", t.Kind.ToString()), ("$amount", t.AmountMinor),
            ("$currency", t.CurrencyCode), ("$balance", t.BalanceAfterMinor), ("$at", SqliteEventStore.ToMicros(t.OccurredAt)),
            ("$reference", t.Reference), ("$position", t.Position));
        command.ExecuteNonQuery();
    }
}
