using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A statement the database cancels because it ran past the role's or database's <c>statement_timeout</c> (held up by a
/// lock, a busy server) is the infrastructure's passing trouble: UNAVAILABLE, nothing written, and its retry succeeds.
/// </summary>
public sealed class PostgresTimeoutSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task ACommandCancelledByTheStatementTimeout_IsUnavailable_WritesNothing_AndItsRetrySucceedsOnce()
    {
        var connectionString = await postgres.CreateDatabaseAsync();
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database;
        await using (var admin = new NpgsqlConnection(connectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand($"alter database \"{database}\" set statement_timeout = '1s'", admin).ExecuteNonQueryAsync();
        }
        await using var host = await BankHost.StartPostgresAsync(connectionString);
        var id = Guid.NewGuid().ToString("N")[..16];
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Edsger Dijkstra", CurrencyCode = "EUR" });
        var deposit = new DepositMoneyRequest { AccountId = id, AmountMinor = 5, CurrencyCode = "EUR", RequestId = $"{id}-1" };

        // Another session holds the events table for longer than the timeout: the deposit's insert waits, and is cancelled.
        await using (var locker = new NpgsqlConnection(connectionString))
        {
            await locker.OpenAsync();
            await using var tx = await locker.BeginTransactionAsync();
            await new NpgsqlCommand("set local statement_timeout = 0; lock table events in access exclusive mode", locker, tx).ExecuteNonQueryAsync();

            var e = await Assert.ThrowsAsync<RpcException>(() => host.Accounts.DepositMoneyAsync(deposit).ResponseAsync);

            Assert.True(e.StatusCode == StatusCode.Unavailable, $"{e.StatusCode} {e.Status.Detail}");
            await tx.RollbackAsync();
        }

        var retried = await host.Accounts.DepositMoneyAsync(deposit);
        var again = await host.Accounts.DepositMoneyAsync(deposit);
        Assert.Equal((2L, 5L), (retried.Version, retried.BalanceMinor));
        Assert.Equal((retried.Version, retried.Position), (again.Version, again.Position));
    }
}
