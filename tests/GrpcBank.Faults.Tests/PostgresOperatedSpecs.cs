using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// PostgreSQL as a DBA runs it: the server's role gets only the use of tables a migration role created (no CREATE on the
/// schema or the database), and the server must start and serve on them, or, when they are missing, say which and how
/// to create them. Each spec gets a cluster of its own: roles are the cluster's, not a database's.
/// </summary>
public sealed class PostgresOperatedSpecs
{
    [Fact]
    public async Task ARoleGrantedOnlyTheUseOfTheTables_StartsOnTheSchemaAMigrationRoleMade_AndServes()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await using var host = await MigratedThenStartedAsAppAsync(cluster);
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "ada", OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        var deposited = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest
        {
            AccountId = "ada", AmountMinor = 250, CurrencyCode = "EUR", RequestId = "dep-1",
        });

        Assert.Equal(250, deposited.BalanceMinor);
    }

    [Fact]
    public async Task ThePrintedSchema_RunByTheMigrationRoleInPsqlsWay_IsWhatTheServerNeeds()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await DbaSetUpAsync(cluster);
        var printed = await ChildProcess.RunAsync("dotnet", [ServerProcess.DllPath, "--print-postgres-schema"], TimeSpan.FromSeconds(60),
            Path.GetDirectoryName(ServerProcess.DllPath)!);
        Assert.True(printed.ExitCode == 0, printed.ToString());
        Assert.Contains("create table", printed.Output);

        await ExecuteAsync(As(cluster, "migrator"), printed.Output);
        await GrantUseAsync(cluster);

        await using var host = await BankHost.StartPostgresAsync(As(cluster, "app"), ("ReadStore:Kind", "Sqlite"));
        var opened = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "ada", OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        Assert.Equal(1, opened.Version);
    }

    [Fact]
    public async Task ARoleThatMayNotCreateTheMissingTables_RefusesToStart_NamingTheRoleTheSchemaTheScriptsAndHowToApplyThem()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await DbaSetUpAsync(cluster);
        await ExecuteAsync(cluster.ConnectionString, "grant usage on schema bank to app");

        var (_, exitCode, output) = await ServerProcess.RunToExitAsync(
            new ServerLaunch(("ConnectionStrings:Postgres", As(cluster, "app")), ("ReadStore:Kind", "Sqlite"),
                ("Storage:DataDirectory", Directory.CreateTempSubdirectory("grpcbank-operated-").FullName)), TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 1, $"exit code {exitCode}:\n{output}");
        Assert.Contains("GrpcBank cannot start: PostgreSQL at 127.0.0.1", output);
        Assert.Contains("role app may not create the bank's tables in schema bank (permission denied for schema bank)", output);
        Assert.Contains("001_events", output);
        Assert.Contains("--print-postgres-schema", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task ARightRevokedMidWay_IsInternal_NotARetryableOutage_AndTheCommandWorksOnceGrantedAgain()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await using var host = await MigratedThenStartedAsAppAsync(cluster);
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "ada", OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        var deposit = new DepositMoneyRequest { AccountId = "ada", AmountMinor = 7, CurrencyCode = "EUR", RequestId = "dep-1" };

        await ExecuteAsync(As(cluster, "migrator"), "revoke insert on events from app");
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => host.Accounts.DepositMoneyAsync(deposit).ResponseAsync);
        await ExecuteAsync(As(cluster, "migrator"), "grant insert on events to app");
        var deposited = await host.Accounts.DepositMoneyAsync(deposit);

        // It lasts until a DBA acts: INTERNAL ("do not retry until it is fixed", an error id for the log), not UNAVAILABLE.
        Assert.True(refused.StatusCode == Grpc.Core.StatusCode.Internal, $"{refused.StatusCode} {refused.Status.Detail}");
        Assert.Contains("error id", refused.Status.Detail);
        Assert.Equal((2L, 7L), (deposited.Version, deposited.BalanceMinor));
    }

    /// <summary>
    /// The migration role's server run applies the migrations (as a deployment's migration job would), the DBA grants the
    /// use of the tables, and the server starts as the application role.
    /// </summary>
    private static async Task<BankHost> MigratedThenStartedAsAppAsync(ThrowawayCluster cluster)
    {
        await DbaSetUpAsync(cluster);
        await using (var migration = await BankHost.StartPostgresAsync(As(cluster, "migrator"), ("ReadStore:Kind", "Sqlite")))
        {
        }
        await GrantUseAsync(cluster);
        return await BankHost.StartPostgresAsync(As(cluster, "app"), ("ReadStore:Kind", "Sqlite"));
    }

    /// <summary>
    /// As a DBA sets a database up: a migration role owns the schema <c>bank</c>; the application role <c>app</c> may
    /// connect, and nobody but the owner creates anything in <c>public</c>.
    /// </summary>
    internal static Task DbaSetUpAsync(ThrowawayCluster cluster) => ExecuteAsync(cluster.ConnectionString, """
        create role migrator login;
        create role app login;
        revoke create on schema public from public;
        revoke all on database postgres from public;
        grant connect on database postgres to migrator, app;
        create schema bank authorization migrator;
        """);

    /// <summary>What a DBA grants the application role once the migration role made the tables.</summary>
    internal static Task GrantUseAsync(ThrowawayCluster cluster) => ExecuteAsync(As(cluster, "migrator"), """
        grant usage on schema bank to app;
        grant select, insert, update, delete on all tables in schema bank to app;
        grant usage, select on all sequences in schema bank to app;
        """);

    /// <summary>The cluster as <paramref name="role"/>, its tables in the schema <c>bank</c> (the connection string's Search Path).</summary>
    internal static string As(ThrowawayCluster cluster, string role) =>
        new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Username = role, SearchPath = "bank" }.ConnectionString;

    internal static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
