using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Orders;
using GrpcBank.Application.Payments;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain;
using Microsoft.Data.Sqlite;
using static GrpcBank.Sqlite.SqliteEventStore;

namespace GrpcBank.Sqlite;

/// <summary>
/// The embedded read store. Views and the applied watermark change in one transaction. The views are
/// disposable: when the schema version changes the tables are dropped and rebuilt from the event store.
/// </summary>
public sealed partial class SqliteReadStore : IReadStore, IDisposable
{
    // 5: holds, limits and restrictions beside the position-keyed statement lines. 6: the typo vocabulary has the words of
    // names with diacritics (SearchText folds them now; before, "lindström" never matched the index's "lindstrom"). 7: and
    // the words with letters beyond the BMP ("𠮷田", which SearchText split at the surrogates).
    private const int SchemaVersion = 7;

    private const string DropAll = """
        drop table if exists owner_vocab; drop table if exists owner_terms_trigram; drop table if exists owner_terms;
        drop table if exists accounts_fts; drop table if exists orders_fts;
        drop table if exists accounts; drop table if exists transactions; drop table if exists orders;
        drop table if exists payments; drop table if exists holds; drop table if exists checkpoint;
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
            updated_at    integer not null,
            held_minor            integer not null,
            overdraft_limit_minor integer not null,
            debits_blocked        integer not null,
            credits_blocked       integer not null
        );
        create table if not exists holds (
            account_id     text    not null,
            hold_id        text    not null,
            amount_minor   integer not null,
            captured_minor integer not null,
            currency_code  text    not null,
            status         text    not null,
            reference      text    not null,
            expires_at     integer not null,
            placed_at      integer not null,
            updated_at     integer not null,
            position       integer not null,
            primary key (account_id, hold_id)
        );
        create index if not exists holds_by_account on holds (account_id, placed_at, hold_id);
        create index if not exists holds_by_expiry on holds (status, expires_at);
        -- Keyed by the position of the event that made the line (one line per event at most): appends go to the end of
        -- the table's b-tree, where a random text key (the event id) would scatter them, at half the insert rate.
        create table if not exists transactions (
            transaction_id      text    not null,
            account_id          text    not null,
            kind                text    not null,
            amount_minor        integer not null,
            currency_code       text    not null,
            balance_after_minor integer not null,
            occurred_at         integer not null,
            reference           text    not null,
            payment_id          text    not null,
            order_id            text    not null,
            position            integer primary key
        );

        -- Owner-name search (RECIPES.md, SQLite): an external-content FTS5 index kept in step by triggers, so it
        -- changes in the same transaction as the accounts table; its vocabulary, and a trigram index of that
        -- vocabulary for typo candidates.
        create virtual table if not exists accounts_fts using fts5(
            owner_name, content = 'accounts', content_rowid = 'rowid',
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
        create trigger if not exists accounts_fts_insert after insert on accounts begin
            insert into accounts_fts (rowid, owner_name) values (new.rowid, new.owner_name);
        end;
        create trigger if not exists accounts_fts_update after update of owner_name on accounts
        when old.owner_name is not new.owner_name begin
            insert into accounts_fts (accounts_fts, rowid, owner_name) values ('delete', old.rowid, old.owner_name);
            insert into accounts_fts (rowid, owner_name) values (new.rowid, new.owner_name);
        end;
        create trigger if not exists accounts_fts_delete after delete on accounts begin
            insert into accounts_fts (accounts_fts, rowid, owner_name) values ('delete', old.rowid, old.owner_name);
        end;
        create virtual table if not exists owner_vocab using fts5vocab(accounts_fts, 'row');
        create table if not exists owner_terms (term text primary key);
        create virtual table if not exists owner_terms_trigram using fts5(
            term, content = 'owner_terms', content_rowid = 'rowid', tokenize = 'trigram');
        create trigger if not exists owner_terms_insert after insert on owner_terms begin
            insert into owner_terms_trigram (rowid, term) values (new.rowid, new.term);
        end;
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
        create virtual table if not exists orders_fts using fts5(
            description, content = 'orders', content_rowid = 'rowid',
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
        create trigger if not exists orders_fts_insert after insert on orders begin
            insert into orders_fts (rowid, description) values (new.rowid, new.description);
        end;
        create trigger if not exists orders_fts_delete after delete on orders begin
            insert into orders_fts (orders_fts, rowid, description) values ('delete', old.rowid, old.description);
        end;
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

    /// <summary>
    /// Indexes only queries use. A new generation is filled without them and gets them once, at the end of its load
    /// (<see cref="FinishLoadAsync"/>): one sorted build is cheaper than keeping them in step row by row.
    /// </summary>
    private const string SecondaryIndexes = """
        create index if not exists transactions_by_account on transactions (account_id, position);
        create index if not exists transactions_by_currency_time on transactions (currency_code, occurred_at);
        create index if not exists accounts_by_owner_name on accounts (owner_name, account_id);
        create index if not exists accounts_by_balance on accounts (balance_minor, account_id);
        create index if not exists accounts_by_opened_at on accounts (opened_at, account_id);
        create index if not exists orders_by_placed_at on orders (placed_at, order_id);
        create index if not exists orders_by_customer on orders (customer_account_id, placed_at);
        create index if not exists orders_by_merchant on orders (merchant_account_id, placed_at);
        create index if not exists payments_by_created_at on payments (created_at, payment_id);
        create index if not exists payments_by_payer on payments (from_account_id, created_at);
        create index if not exists payments_by_payee on payments (to_account_id, created_at);
        create index if not exists payments_by_order on payments (order_id);
        """;

    private readonly SqliteDatabase db;

    /// <summary>While a new generation is bulk-loaded: the views it changed, written at the end of the load (or when too many).</summary>
    private CarriedViews? carried;

    /// <summary>The database file.</summary>
    public string Path { get; }

    public SqliteReadStore(string path) : this(path, bulkLoad: false)
    {
    }

    /// <param name="bulkLoad">
    /// A new generation about to be filled from the event store: commits are not synced and secondary indexes wait,
    /// until <see cref="FinishLoadAsync"/>. A crash meanwhile loses nothing (no one reads it; a rebuild starts afresh).
    /// </param>
    private SqliteReadStore(string path, bool bulkLoad)
    {
        Path = path;
        db = new SqliteDatabase(path, "") { Durable = !bulkLoad };
        carried = bulkLoad ? new CarriedViews() : null;
        using var connection = db.Open();
        using var version = connection.CreateCommand();
        version.CommandText = "pragma user_version";
        if ((long)version.ExecuteScalar()! != SchemaVersion) SqliteDatabase.Execute(connection, DropAll);
        SqliteDatabase.Execute(connection, Schema);
        if (!bulkLoad) SqliteDatabase.Execute(connection, SecondaryIndexes);
    }

    /// <summary>A new, empty generation in bulk-load mode (see the constructor).</summary>
    public static SqliteReadStore ForBulkLoad(string path) => new(path, bulkLoad: true);

    /// <summary>Ends the bulk load: builds the secondary indexes, then syncs the file; from here every commit is durable.</summary>
    public async Task FinishLoadAsync(CancellationToken ct)
    {
        await db.WriteAsync((connection, tx) =>
        {
            carried?.Write(connection, tx);
            SqliteDatabase.Execute(connection, SecondaryIndexes);
            AddEveryOwnersTerms(connection, tx);
            return 0;
        }, ct);
        carried = null;
        db.Durable = true;
        await using var connection = db.Open();
        // Copies the unsynced WAL into the database file and syncs it (synchronous is FULL on this connection).
        SqliteDatabase.Execute(connection, "pragma wal_checkpoint(TRUNCATE)");
    }

    public async Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        if (carried is { Count: > CarriedViews.Limit } full)
        {
            await db.WriteAsync((connection, tx) =>
            {
                full.Write(connection, tx);
                return 0;
            }, ct);
            full.Clear();
        }
        var views = await db.WriteAsync((connection, tx) =>
        {
            var views = new PendingViews(connection, tx, carried);
            foreach (var e in events) Apply(connection, tx, views, e);
            if (carried is null) views.Write(connection, tx);
            Execute(connection, tx, "update checkpoint set position = max(position, $watermark)", ("$watermark", watermark));
            return views;
        }, ct);
        // Only once committed: a failed call leaves the carried views as they were, like the rows it rolled back.
        if (carried is not null) views.CarryInto(carried);
    }

    private static void Apply(SqliteConnection connection, SqliteTransaction tx, PendingViews views, RecordedEvent e)
    {
        if (AccountProjection.Handles(e))
        {
            var id = IdOf(e);
            if (AccountProjection.Apply(views.Accounts.Get(id, e.StreamVersion), e) is not { } applied) return;
            views.Accounts.Set(id, applied.View);
            if (applied.Line is { } line) Insert(connection, tx, line);
            if (applied.Hold is { } hold) Apply(connection, tx, hold);
        }
        else if (OrderProjection.Handles(e))
        {
            var id = IdOf(e);
            if (OrderProjection.Apply(views.Orders.Get(id, e.StreamVersion), e) is { } order) views.Orders.Set(id, order);
        }
        else if (PaymentProjection.Handles(e))
        {
            var id = IdOf(e);
            if (PaymentProjection.Apply(views.Payments.Get(id, e.StreamVersion), e) is { } payment) views.Payments.Set(id, payment);
        }
    }

    /// <summary>
    /// The views one call changes, each read at most once and written once, at the end (in the same transaction): a
    /// batch of a thousand deposits to one account is one read and one write of its row, not a thousand of each. During a
    /// bulk load they are read from, and handed to, the views carried from call to call instead.
    /// </summary>
    private sealed class PendingViews(SqliteConnection connection, SqliteTransaction tx, CarriedViews? carried)
    {
        public Pending<AccountView> Accounts { get; } = new(id => carried?.Account(id) ?? FindAccount(connection, tx, id));
        public Pending<OrderView> Orders { get; } = new(id => carried?.Order(id) ?? FindOrder(connection, tx, id));
        public Pending<PaymentView> Payments { get; } = new(id => carried?.Payment(id) ?? FindPayment(connection, tx, id));

        public void Write(SqliteConnection connection, SqliteTransaction tx)
        {
            Upsert(connection, tx, Accounts.Changed.Select(c => c.View), Orders.Changed.Select(c => c.View), Payments.Changed.Select(c => c.View));
            // After the rows exist: the vocabulary is read from the owner-name index their inserts fed.
            foreach (var (_, stored, view) in Accounts.Changed)
                if (stored is null) AddOwnerTerms(connection, tx, view.OwnerName);
        }

        public void CarryInto(CarriedViews carried)
        {
            foreach (var (id, _, view) in Accounts.Changed) carried.Accounts[id] = view;
            foreach (var (id, _, view) in Orders.Changed) carried.Orders[id] = view;
            foreach (var (id, _, view) in Payments.Changed) carried.Payments[id] = view;
        }
    }

    /// <summary>
    /// The views a bulk load has changed and not yet written: written once, at the end of the load, instead of once per
    /// page (a history spread over thousands of accounts touches most of them in every page). Bounded: past
    /// <see cref="Limit"/> views they are written and forgotten. The owners' typo vocabulary is left to the end of the load.
    /// </summary>
    private sealed class CarriedViews
    {
        public const int Limit = 100_000;

        public Dictionary<string, AccountView> Accounts { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, OrderView> Orders { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, PaymentView> Payments { get; } = new(StringComparer.Ordinal);

        public int Count => Accounts.Count + Orders.Count + Payments.Count;

        public AccountView? Account(string id) => Accounts.GetValueOrDefault(id);
        public OrderView? Order(string id) => Orders.GetValueOrDefault(id);
        public PaymentView? Payment(string id) => Payments.GetValueOrDefault(id);

        public void Write(SqliteConnection connection, SqliteTransaction tx) => Upsert(connection, tx, Accounts.Values, Orders.Values, Payments.Values);

        public void Clear()
        {
            Accounts.Clear();
            Orders.Clear();
            Payments.Clear();
        }
    }

    private static void Upsert(SqliteConnection connection, SqliteTransaction tx,
        IEnumerable<AccountView> accounts, IEnumerable<OrderView> orders, IEnumerable<PaymentView> payments)
    {
        foreach (var view in accounts) Upsert(connection, tx, view);
        foreach (var view in orders) Upsert(connection, tx, view);
        foreach (var view in payments) Upsert(connection, tx, view);
    }

    private sealed class Pending<T>(Func<string, T?> load) where T : class
    {
        private readonly Dictionary<string, (T? Stored, T? View, bool Changed)> views = new(StringComparer.Ordinal);

        /// <param name="version">
        /// The stream version of the event about to be applied. The first event of a stream starts its view afresh, without
        /// reading the stored one: only a redelivery finds one, and then every later event of the stream follows in order,
        /// so the view comes out as a replay makes it, and the upsert's version guard keeps a newer stored row.
        /// </param>
        public T? Get(string id, long version)
        {
            if (!views.TryGetValue(id, out var entry))
            {
                var stored = version == 1 ? null : load(id);
                views[id] = entry = (stored, stored, false);
            }
            return entry.View;
        }

        public void Set(string id, T view) => views[id] = (views.TryGetValue(id, out var entry) ? entry.Stored : load(id), view, true);

        /// <summary>In first-touched order; each with the view as stored before this call (null: new).</summary>
        public IEnumerable<(string Id, T? Stored, T View)> Changed =>
            views.Where(v => v.Value.Changed).Select(v => (v.Key, v.Value.Stored, v.Value.View!));
    }

    /// <summary>The aggregate id of a stream id such as account-42.</summary>
    private static string IdOf(RecordedEvent e) => StreamIds.AggregateIdOf(e.StreamId);

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

    private static T? FindOne<T>(SqliteConnection connection, SqliteTransaction tx, string sql, string id, Func<SqliteDataReader, T> map)
        where T : class
    {
        var command = PreparedStatements.Command(connection, tx, sql, [("$id", id)], out var owned);
        try
        {
            using var reader = command.ExecuteReader();
            return reader.Read() ? map(reader) : null;
        }
        finally
        {
            if (owned) command.Dispose();
        }
    }

    private const string AccountColumns = """
        account_id, owner_name, currency_code, balance_minor, status, version, opened_at, updated_at,
        held_minor, overdraft_limit_minor, debits_blocked, credits_blocked
        """;

    private const string HoldColumns = """
        account_id, hold_id, amount_minor, captured_minor, currency_code, status, reference, expires_at, placed_at, updated_at, position
        """;

    private const string OrderColumns = """
        order_id, customer_account_id, merchant_account_id, amount_minor, currency_code, description, status,
        payment_id, cancellation_reason, placed_at, updated_at, version
        """;

    private const string PaymentColumns = """
        payment_id, order_id, from_account_id, to_account_id, amount_minor, currency_code, status, failure_reason,
        created_at, updated_at, version
        """;

    private const string TransactionColumns = """
        transaction_id, account_id, kind, amount_minor, currency_code, balance_after_minor, occurred_at, reference,
        payment_id, order_id, position
        """;

    private static AccountView ReadAccount(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
            Enum.Parse<AccountViewStatus>(r.GetString(4)), r.GetInt64(5), FromMicros(r.GetInt64(6)), FromMicros(r.GetInt64(7)))
        {
            HeldMinor = r.GetInt64(8), OverdraftLimitMinor = r.GetInt64(9), DebitsBlocked = r.GetBoolean(10), CreditsBlocked = r.GetBoolean(11),
        };

    private static HoldView ReadHold(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetString(4), Enum.Parse<HoldViewStatus>(r.GetString(5)),
            r.GetString(6), FromMicros(r.GetInt64(7)), FromMicros(r.GetInt64(8)), FromMicros(r.GetInt64(9)), r.GetInt64(10));

    private static OrderView ReadOrder(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetString(5),
            Enum.Parse<OrderViewStatus>(r.GetString(6)), r.GetString(7), r.GetString(8),
            FromMicros(r.GetInt64(9)), FromMicros(r.GetInt64(10)), r.GetInt64(11));

    private static PaymentView ReadPayment(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetString(5),
            Enum.Parse<PaymentViewStatus>(r.GetString(6)), r.GetString(7),
            FromMicros(r.GetInt64(8)), FromMicros(r.GetInt64(9)), r.GetInt64(10));

    private static TransactionView ReadTransaction(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), Enum.Parse<TransactionKind>(r.GetString(2)), r.GetInt64(3), r.GetString(4),
            r.GetInt64(5), FromMicros(r.GetInt64(6)), r.GetString(7), r.GetString(8), r.GetString(9), r.GetInt64(10));

    private static AccountView? FindAccount(SqliteConnection connection, SqliteTransaction tx, string accountId) =>
        FindOne(connection, tx, $"select {AccountColumns} from accounts where account_id = $id", accountId, ReadAccount);

    private static OrderView? FindOrder(SqliteConnection connection, SqliteTransaction tx, string orderId) =>
        FindOne(connection, tx, $"select {OrderColumns} from orders where order_id = $id", orderId, ReadOrder);

    private static PaymentView? FindPayment(SqliteConnection connection, SqliteTransaction tx, string paymentId) =>
        FindOne(connection, tx, $"select {PaymentColumns} from payments where payment_id = $id", paymentId, ReadPayment);

    /// <summary>
    /// Adds the terms of a new owner name to the typo vocabulary. Only terms the FTS5 index itself holds are
    /// taken (checked against fts5vocab), so a tokenizer difference can never invent a term.
    /// </summary>
    private static void AddOwnerTerms(SqliteConnection connection, SqliteTransaction tx, string ownerName)
    {
        foreach (var term in SearchText.Tokens(ownerName).Distinct())
            Execute(connection, tx, "insert or ignore into owner_terms (term) select term from owner_vocab where term = $term",
                ("$term", term));
    }

    /// <summary>
    /// <see cref="AddOwnerTerms"/> for every account at once, at the end of a bulk load: the owner-name index's vocabulary
    /// read in one pass, instead of one look-up of it per term of each new account.
    /// </summary>
    private static void AddEveryOwnersTerms(SqliteConnection connection, SqliteTransaction tx)
    {
        var indexed = new HashSet<string>(StringComparer.Ordinal);
        var names = new List<string>();
        using (var vocabulary = SqliteDatabase.Command(connection, tx, "select term from owner_vocab"))
        using (var reader = vocabulary.ExecuteReader())
            while (reader.Read()) indexed.Add(reader.GetString(0));
        using (var owners = SqliteDatabase.Command(connection, tx, "select owner_name from accounts"))
        using (var reader = owners.ExecuteReader())
            while (reader.Read()) names.Add(reader.GetString(0));
        foreach (var term in names.SelectMany(SearchText.Tokens).Where(indexed.Contains).Distinct())
            Execute(connection, tx, "insert or ignore into owner_terms (term) values ($term)", ("$term", term));
    }

    // Every upsert carries a version guard: a redelivered or out-of-date write changes nothing. An update sets only the
    // columns that can change after the row is inserted: SQLite rewrites the entries of every index on a column the
    // statement assigns, changed or not (an account's owner name and opening time are set when it opens, and each has
    // an index).

    private static void Upsert(SqliteConnection connection, SqliteTransaction tx, AccountView v) =>
        Execute(connection, tx, """
            insert into accounts (account_id, owner_name, currency_code, balance_minor, status, version, opened_at, updated_at,
                                  held_minor, overdraft_limit_minor, debits_blocked, credits_blocked)
            values ($id, $owner, $currency, $balance, $status, $version, $opened, $updated, $held, $limit, $debits, $credits)
            on conflict (account_id) do update set
                balance_minor = excluded.balance_minor, status = excluded.status, version = excluded.version,
                updated_at = excluded.updated_at, held_minor = excluded.held_minor,
                overdraft_limit_minor = excluded.overdraft_limit_minor, debits_blocked = excluded.debits_blocked,
                credits_blocked = excluded.credits_blocked
            where excluded.version > accounts.version
            """,
            ("$id", v.AccountId), ("$owner", v.OwnerName), ("$currency", v.CurrencyCode), ("$balance", v.BalanceMinor),
            ("$status", v.Status.ToString()), ("$version", v.Version),
            ("$opened", ToMicros(v.OpenedAt)), ("$updated", ToMicros(v.UpdatedAt)), ("$held", v.HeldMinor),
            ("$limit", v.OverdraftLimitMinor), ("$debits", v.DebitsBlocked), ("$credits", v.CreditsBlocked));

    // A hold changes only with its account's view (whose version guard has already passed), in the same transaction;
    // the position guard keeps a resolved hold from being overwritten by an older write all the same.
    private static void Apply(SqliteConnection connection, SqliteTransaction tx, HoldChange change)
    {
        switch (change)
        {
            case HoldChange.Placed { Hold: var h }:
                Execute(connection, tx, """
                    insert or ignore into holds (account_id, hold_id, amount_minor, captured_minor, currency_code, status, reference,
                                                 expires_at, placed_at, updated_at, position)
                    values ($account, $hold, $amount, $captured, $currency, $status, $reference, $expires, $placed, $updated, $position)
                    """,
                    ("$account", h.AccountId), ("$hold", h.HoldId), ("$amount", h.AmountMinor), ("$captured", h.CapturedMinor),
                    ("$currency", h.CurrencyCode), ("$status", h.Status.ToString()), ("$reference", h.Reference),
                    ("$expires", ToMicros(h.ExpiresAt)), ("$placed", ToMicros(h.PlacedAt)), ("$updated", ToMicros(h.UpdatedAt)),
                    ("$position", h.Position));
                break;
            case HoldChange.Resolved r:
                Execute(connection, tx, """
                    update holds set status = $status, captured_minor = $captured, updated_at = $updated, position = $position
                    where account_id = $account and hold_id = $hold and position < $position
                    """,
                    ("$account", r.AccountId), ("$hold", r.HoldId), ("$status", r.Status.ToString()), ("$captured", r.CapturedMinor),
                    ("$updated", ToMicros(r.At)), ("$position", r.Position));
                break;
        }
    }

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

    private static void Execute(SqliteConnection connection, SqliteTransaction tx, string sql, params (string, object?)[] parameters) =>
        PreparedStatements.Execute(connection, tx, sql, parameters);

    public void Dispose() => db.Dispose();
}
