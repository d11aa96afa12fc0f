using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A PostgreSQL the server cannot use at start-up (nothing listening, no such database) is the operator's to fix: the
/// server refuses to start in one line naming the server and the cause, exit code 1, as for any other configuration
/// mistake, not an unhandled exception's abort and a page of stack trace.
/// </summary>
public sealed class UnusablePostgresAtStartUpSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task NothingListening_RefusesToStart_InOneLineNamingTheServer() =>
        await AssertRefusedAsync(new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = FreePorts.Next(), Username = "postgres", Database = "bank", Timeout = 3,
        }.ConnectionString, "Connection refused");

    [Fact]
    public async Task NoSuchDatabase_RefusesToStart_InOneLineNamingIt() =>
        await AssertRefusedAsync(new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync()) { Database = "no_such_bank" }.ConnectionString,
            "database \"no_such_bank\" does not exist");

    private static async Task AssertRefusedAsync(string connectionString, string cause)
    {
        var at = new NpgsqlConnectionStringBuilder(connectionString);
        var (_, exitCode, output) = await ServerProcess.RunToExitAsync(
            new ServerLaunch(("ConnectionStrings:Postgres", connectionString), ("ReadStore:Kind", "Postgres")), TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 1, $"exit code {exitCode}:\n{output}");
        Assert.Contains($"GrpcBank cannot start: PostgreSQL at {at.Host}:{at.Port}, database {at.Database} (ConnectionStrings:Postgres) cannot be used", output);
        Assert.Contains(cause, output);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.DoesNotContain("   at ", output);
        Assert.DoesNotContain("Now listening on", output);
    }
}
