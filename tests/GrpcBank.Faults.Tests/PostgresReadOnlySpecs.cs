using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A database turned read-only under the server (a DBA's <c>default_transaction_read_only</c>, a primary demoted to a
/// standby in a failover): it refuses writes for a while, and takes them again once writable. That is the infrastructure's
/// passing trouble, as a restart is: commands are UNAVAILABLE (safe to retry with their request_id), reads go on, the
/// background writers (relay, hold expiry) do not flood the log, and writes resume by themselves.
/// </summary>
public sealed class PostgresReadOnlySpecs
{
    [Fact]
    public async Task ADatabaseTurnedReadOnly_AnswersCommandsUnavailable_ServesReads_AndTakesWritesAgainOnceWritable()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        var connectionString = cluster.ConnectionString;
        var logs = new CapturedLogs();
        await using var host = await BankHost.StartPostgresAsync(connectionString, builder => builder.Logging.AddProvider(logs));
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "ada", OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        var first = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 100, CurrencyCode = "EUR", RequestId = "dep-1" });
        await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = "ada", MinPosition = first.Position });

        await SetReadOnlyAsync(connectionString, true);
        var deposit = new DepositMoneyRequest { AccountId = "ada", AmountMinor = 5, CurrencyCode = "EUR", RequestId = "dep-2" };
        var refused = await Assert.ThrowsAsync<RpcException>(() => host.Accounts.DepositMoneyAsync(deposit).ResponseAsync);
        var opening = await Assert.ThrowsAsync<RpcException>(() => host.Accounts.OpenAccountAsync(
            new OpenAccountRequest { AccountId = "bob", OwnerName = "Bob", CurrencyCode = "EUR" }).ResponseAsync);
        var read = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = "ada", MinPosition = first.Position });
        // The relay's lease connection ends meanwhile (as in a failover): it takes the lease again, and each consumer's
        // start, which looks at the read store under a share lock, fails at every backed-off retry while read-only.
        await EndTheRelaysLeaseAsync(connectionString);
        await Task.Delay(TimeSpan.FromSeconds(4));
        var whileReadOnly = logs.Lines.Where(l => l.StartsWith("Warning", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal)).ToList();
        await SetReadOnlyAsync(connectionString, false);

        Assert.True(refused.StatusCode == StatusCode.Unavailable, $"{refused.StatusCode} {refused.Status.Detail}");
        Assert.True(opening.StatusCode == StatusCode.Unavailable, $"{opening.StatusCode} {opening.Status.Detail}");
        Assert.Equal(100, read.Account.BalanceMinor);
        var summary = string.Join("\n", whileReadOnly.Select(l => l.Split('\n')[0]));
        Assert.DoesNotContain(whileReadOnly, l => l.StartsWith("Error", StringComparison.Ordinal));
        // Each loop (the trim, once per lease; the commands' edge) says so once, not at every retry.
        Assert.True(whileReadOnly.Count <= 6, $"{whileReadOnly.Count} warnings while read-only for 4 s:\n{summary}");
        var retried = await RetryAsync(() => host.Accounts.DepositMoneyAsync(deposit).ResponseAsync);
        Assert.Equal(105, retried.BalanceMinor);
        var seen = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = "ada", MinPosition = retried.Position });
        Assert.Equal(105, seen.Account.BalanceMinor);
    }

    /// <summary>
    /// Sets the cluster's default and has every session take it at once (a reload), as a DBA would, without breaking a
    /// connection; this session overrides the default for itself, or it could not set it back.
    /// </summary>
    internal static async Task SetReadOnlyAsync(string connectionString, bool readOnly)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c default_transaction_read_only=off", Pooling = false };
        await using var admin = new NpgsqlConnection(builder.ConnectionString);
        await admin.OpenAsync();
        await using (var set = new NpgsqlCommand($"alter system set default_transaction_read_only = {(readOnly ? "on" : "off")}", admin))
            await set.ExecuteNonQueryAsync();
        await using var reload = new NpgsqlCommand("select pg_reload_conf()", admin);
        await reload.ExecuteNonQueryAsync();
        // The reload reaches each backend with its next statement's signal check; give them a moment.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
    }

    private static async Task EndTheRelaysLeaseAsync(string connectionString)
    {
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var end = new NpgsqlCommand(
            "select count(pg_terminate_backend(pid)) from pg_locks where locktype = 'advisory' and granted and pid <> pg_backend_pid()", admin);
        Assert.Equal(1L, await end.ExecuteScalarAsync());
    }

    /// <summary>The call, again every 100 ms while it is UNAVAILABLE (the reload not yet taken everywhere), for up to 15 s.</summary>
    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        var until = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < until)
            {
                await Task.Delay(100);
            }
        }
    }
}
