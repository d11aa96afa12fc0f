using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Hosting;
using Npgsql;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// This release on a PostgreSQL read store another release made (another read-store schema). It replaces the serving
/// generation with an empty one of its own, which only a relay starting afterwards refills from the event store. So
/// while a server of the other release runs the relay (a rolling upgrade's first new server), it refuses to start:
/// started, it emptied the read side of every server for good, the running relay feeding it only what came after
/// (seen by hand with release 36ff84f: every earlier account NOT_FOUND, `bankctl verify` DRIFT).
/// </summary>
public sealed class PostgresReadStoreUpgradeSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task GivenAnotherReleasesReadStore_WhileAServerRunsTheRelay_ThisReleaseRefusesToStart_AndTheReadSideKeepsItsViews()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var running = await BankHost.StartPostgresAsync(database);
        var bank = new Bank(running);
        var ada = await bank.OpenAsync(deposit: 1_000);
        await AsAnotherReleaseLeftItAsync(database);

        var refused = await Assert.ThrowsAnyAsync<Exception>(async () => await (await BankHost.StartPostgresAsync(database)).DisposeAsync());

        var reason = Assert.IsType<StartupRefusedException>(Refusal(refused));
        Assert.Contains("not a rolling upgrade", reason.Message, StringComparison.Ordinal);
        Assert.Contains("read-store schema 2", reason.Message, StringComparison.Ordinal);
        Assert.Equal(1_000, (await bank.AccountAsync(ada)).BalanceMinor);
        var later = await bank.Accounts.DepositMoneyAsync(new() { AccountId = ada, AmountMinor = 1, CurrencyCode = "EUR" });
        Assert.Equal(1_001, (await bank.AccountAsync(ada, later.Position)).BalanceMinor);
        Assert.Equal(2, await ServingSchemaAsync(database));
    }

    [Fact]
    public async Task GivenAnotherReleasesReadStore_WithNoRelayRunning_ThisReleaseReplacesIt_AndItsRelayRefillsItFromTheEventStore()
    {
        var database = await postgres.CreateDatabaseAsync();
        string ada;
        await using (var previous = await BankHost.StartPostgresAsync(database))
        {
            ada = await new Bank(previous).OpenAsync(deposit: 1_000);
            await AsAnotherReleaseLeftItAsync(database);
        }

        await using var upgraded = await BankHost.StartPostgresAsync(database);

        var bank = new Bank(upgraded);
        Assert.Equal(3, await ServingSchemaAsync(database));
        var head = await bank.Accounts.DepositMoneyAsync(new() { AccountId = ada, AmountMinor = 1, CurrencyCode = "EUR" });
        Assert.Equal(1_001, (await bank.AccountAsync(ada, head.Position)).BalanceMinor);
        Assert.Single((await bank.Query.SearchAccountsAsync(new SearchAccountsRequest { MinPosition = head.Position })).Accounts);
    }

    /// <summary>What the previous release (36ff84f, read-store schema 2) leaves: its generation serving, marked with its schema.</summary>
    private static async Task AsAnotherReleaseLeftItAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("update bank_read.serving set schema_version = 2", connection);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static async Task<int> ServingSchemaAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select schema_version from bank_read.serving", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private static Exception Refusal(Exception e) => e is StartupRefusedException || e.InnerException is null ? e : Refusal(e.InnerException);
}
