using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Two banks in two schemas of one database (the connection string's Search Path): each has its own tables, and each its
/// own relay. Advisory locks are the database's, so a lease keyed by a name alone let only one bank's relay run.
/// </summary>
public sealed class PostgresSchemasSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task TwoBanksInTwoSchemasOfOneDatabase_EachRunsItsRelay_AndNeitherSeesTheOthersAccounts()
    {
        var connectionString = await postgres.CreateDatabaseAsync();
        await using (var admin = new NpgsqlConnection(connectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand("create schema north; create schema south", admin).ExecuteNonQueryAsync();
        }
        // Embedded read stores: each is fed only where its bank's relay runs, so a bank whose relay is locked out never
        // answers a read at the position of its own deposit.
        await using var north = await BankHost.StartPostgresAsync(In(connectionString, "north"), ("ReadStore:Kind", "Sqlite"));
        await using var south = await BankHost.StartPostgresAsync(In(connectionString, "south"), ("ReadStore:Kind", "Sqlite"));

        var inNorth = await DepositAsync(north, "ada", 100);
        var inSouth = await DepositAsync(south, "ada", 7);

        Assert.Equal(100, (await ReadAsync(north, "ada", inNorth)).BalanceMinor);
        Assert.Equal(7, (await ReadAsync(south, "ada", inSouth)).BalanceMinor);
        await using var check = new NpgsqlConnection(connectionString);
        await check.OpenAsync();
        Assert.Equal(2L, await new NpgsqlCommand("select count(*) from north.events", check).ExecuteScalarAsync());
        Assert.Equal(2L, await new NpgsqlCommand("select count(*) from south.events", check).ExecuteScalarAsync());
    }

    private static string In(string connectionString, string schema) =>
        new NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema }.ConnectionString;

    private static async Task<long> DepositAsync(BankHost host, string id, long amount)
    {
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        return (await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest
        {
            AccountId = id, AmountMinor = amount, CurrencyCode = "EUR", RequestId = $"{id}-1",
        })).Position;
    }

    private static async Task<Account> ReadAsync(BankHost host, string id, long position) =>
        (await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = position },
            deadline: DateTime.UtcNow.AddSeconds(15))).Account;
}
