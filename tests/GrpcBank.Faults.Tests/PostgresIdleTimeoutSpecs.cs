using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A DBA's <c>idle_session_timeout</c> (PostgreSQL 14+), set short to end forgotten sessions, ends every session idle for
/// longer, the server's own included: the pooled connections between commands, the relay lease's (pinged each second)
/// and the LISTEN connection. Commands spaced beyond it must still work, and the relay must keep its lease.
/// </summary>
public sealed class PostgresIdleTimeoutSpecs
{
    [Fact]
    public async Task AnIdleSessionTimeoutOfOneSecond_NeitherFailsCommandsSpacedBeyondIt_NorTakesTheRelaysLease()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await using (var admin = new NpgsqlConnection(cluster.ConnectionString))
        {
            await admin.OpenAsync();
            await new NpgsqlCommand("alter system set idle_session_timeout = '1s'", admin).ExecuteNonQueryAsync();
            await new NpgsqlCommand("select pg_reload_conf()", admin).ExecuteNonQueryAsync();
        }
        var logs = new CapturedLogs();
        await using var host = await BankHost.StartPostgresAsync(cluster.ConnectionString, builder => builder.Logging.AddProvider(logs));
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "ada", OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });

        for (var i = 1; i <= 3; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            var deposited = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest
            {
                AccountId = "ada", AmountMinor = 10, CurrencyCode = "EUR", RequestId = $"dep-{i}",
            });
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            var read = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = "ada", MinPosition = deposited.Position });
            Assert.Equal(10 * i, read.Account.BalanceMinor);
        }

        var warnings = logs.Lines.Where(l => l.StartsWith("Warning", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal))
            .Select(l => l.Split('\n')[0]).ToList();
        Assert.True(warnings.Count == 0, string.Join("\n", warnings));
    }
}
