using GrpcBank.Testing;
using Microsoft.Extensions.Logging;
using GrpcBank.Postgres.ReadStore;

namespace GrpcBank.EndToEnd.Tests;

// The same end-to-end specs in production mode: PostgreSQL event store, outbox, relay lease and read store.
// Each server gets a fresh database, so specs never see each other's data.

public sealed class PostgresAccountServiceSpecs(PostgresServer postgres) : AccountServiceSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}

public sealed class PostgresPaymentFlowSpecs(PostgresServer postgres) : PaymentFlowSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}

public sealed class PostgresTextSpecs(PostgresServer postgres) : TextSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}

public sealed class PostgresQuerySpecs(PostgresServer postgres) : QuerySpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}

public sealed class PostgresHistorySpecs(PostgresServer postgres) : HistorySpecs
{
    protected override async Task<BankHost> StartHostAsync() =>
        await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), builder => builder.Logging.AddProvider(Logs));
}

public sealed class PostgresProcessRecoverySpecs(PostgresServer postgres) : ProcessRecoverySpecs
{
    protected override async Task<BankHost> StartHostAsync(params (string Key, string Value)[] settings) =>
        await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), settings);
}

public sealed class PostgresAdminSpecs(PostgresServer postgres) : AdminSpecs
{
    private string database = "";

    protected override async Task<BankHost> StartHostAsync() =>
        await BankHost.StartPostgresAsync(database = await postgres.CreateDatabaseAsync(), builder => builder.Logging.AddProvider(Logs));

    /// <summary>The read store's generation schemas (bank_read_g{stamp}).</summary>
    protected override Task<IReadOnlyList<string>> ReadStoreGenerationsAsync() =>
        PostgresServer.SchemasAsync(database, PostgresReadStoreGenerations.DefaultPrefix + "_g");
}

public sealed class PostgresHistoryUpgradeSpecs(PostgresServer postgres) : HistoryUpgradeSpecs
{
    protected override async Task<BankHost> StartHostAsync(params (string Key, string Value)[] settings) =>
        await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), settings);
}

public sealed class PostgresBatchSpecs(PostgresServer postgres) : BatchSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}

public sealed class PostgresHoldSpecs(PostgresServer postgres) : HoldSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock);
}

public sealed class PostgresOrderHoldSpecs(PostgresServer postgres) : OrderHoldSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock);
}

public sealed class PostgresReadSideModelSpecs(PostgresServer postgres) : ReadSideModelSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock);
}

/// <summary>PostgreSQL's event store with the embedded (SQLite) read store.</summary>
public sealed class PostgresWithSqliteReadSideModelSpecs(PostgresServer postgres) : ReadSideModelSpecs
{
    protected override async Task<BankHost> StartHostAsync() =>
        await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock, ("ReadStore:Kind", "Sqlite"));
}
