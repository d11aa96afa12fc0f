using System.Diagnostics;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// SIGTERM while the server opens its stores (a rolling deploy rolled back while it waits for another server's
/// migrations): a stop asked for, as at any other moment of its life. It ends promptly with exit code 0 and one line,
/// leaves nothing half-written, and the next start finds the stores as they were.
/// </summary>
public sealed class SigtermWhileTheStoresOpenSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task SigtermWhileWaitingForAnotherServersMigrations_ExitsPromptlyWithCodeZero_AndWritesNothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var database = await postgres.CreateDatabaseAsync();
        var data = KillUnderLoadSpecs.TempDirectory();
        try
        {
            // Another server migrating: it holds the migrations' lock, and this one waits for it as long as it takes.
            await using var other = new NpgsqlConnection(database);
            await other.OpenAsync(ct);
            var migrating = await other.BeginTransactionAsync(ct);
            await Execute(other, "select pg_advisory_xact_lock(hashtext('grpcbank.schema_migrations'))");
            await using var server = ServerProcess.Launch(new ServerLaunch(("Storage:DataDirectory", data), ("ConnectionStrings:Postgres", database)));
            var waited = Stopwatch.StartNew();
            while ((long)(await Execute(other, """
                select count(*) from pg_locks l join pg_database d on d.oid = l.database
                where l.locktype = 'advisory' and not l.granted and d.datname = current_database()
                """))! == 0)
            {
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), $"the server never waited for the lock:\n{server.Log}");
                await Task.Delay(50, ct);
            }

            var stopping = Stopwatch.StartNew();
            var exitCode = await server.TerminateAsync(TimeSpan.FromSeconds(30));
            stopping.Stop();

            // Before: the runtime's default end, exit code 143, as if killed.
            Assert.True(exitCode == 0, $"exit code {exitCode}:\n{server.Log}");
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s:\n{server.Log}");
            Assert.Contains("GrpcBank stopped while starting up", server.Log);
            Assert.DoesNotContain("fail:", server.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("crit:", server.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", server.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("Now listening on", server.Log, StringComparison.Ordinal);
            // The other server's migrations ran alone; this one's began none (its wait gave up with the stop).
            await migrating.RollbackAsync(ct);
            Assert.Null(await Execute(other, "select to_regclass('schema_migrations')::text"));

            // The next start migrates and serves.
            await using var again = await ServerProcess.StartAsync(("Storage:DataDirectory", data), ("ConnectionStrings:Postgres", database));
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }

        async Task<object?> Execute(NpgsqlConnection connection, string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var value = await command.ExecuteScalarAsync(ct);
            return value is DBNull ? null : value;
        }
    }
}
