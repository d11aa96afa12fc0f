using GrpcBank.Postgres;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Stores.Tests;

public sealed class PostgresRelayLeaseTests(PostgresServer server)
{
    private readonly string lockName = $"relay-{Guid.NewGuid():N}";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheLeasesBackend_ProbesItsHolder_SoAHolderCutOffByTheNetworkLetsTheLockGoInSeconds_NotHours()
    {
        // A network split cannot be made here (a proxy's kernel answers the probes), so this checks what the backend of a
        // lease connection is told: to probe an idle peer after 5 s, each second, 5 times, and to drop a connection whose
        // data goes unacknowledged for 10 s; PostgreSQL's defaults leave both to the kernel (two hours and more).
        var database = await server.DatabaseForClassAsync(GetType());
        await using var connection = new NpgsqlConnection(PostgresRelayLease.LeaseConnectionString(
            new NpgsqlConnectionStringBuilder(database) { Options = "-c application_name=lease-spec" }.ConnectionString));
        await connection.OpenAsync(Ct);
        await using var show = new NpgsqlCommand("""
            select current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'), current_setting('tcp_keepalives_count'),
                   current_setting('tcp_user_timeout'), current_setting('application_name')
            """, connection);
        await using var reader = await show.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal(("5", "1", "5", "10000", "lease-spec"), (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
    }

    [Fact]
    public async Task OnlyOneOfTwoLeasesIsHeld_AndWhenTheHoldersBackendDies_TheOtherTakesOver()
    {
        var database = await server.DatabaseForClassAsync(GetType());
        var first = new PostgresRelayLease(database, lockName);
        var second = new PostgresRelayLease(database, lockName);

        Assert.False(first.IsHeld);
        await using var held = await first.AcquireAsync(Ct);
        var standby = second.AcquireAsync(Ct);
        await Task.Delay(1500, Ct);
        Assert.False(standby.IsCompleted);
        Assert.True(first.IsHeld);
        Assert.False(second.IsHeld);

        await using (var admin = new NpgsqlConnection(database))
        {
            await admin.OpenAsync(Ct);
            await using var kill = new NpgsqlCommand("""
                select count(pg_terminate_backend(pid)) from pg_locks
                where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
                """, admin);
            Assert.Equal(1L, await kill.ExecuteScalarAsync(Ct));
        }

        var lost = new TaskCompletionSource();
        await using (held.Lost.Register(() => lost.TrySetResult()))
            await lost.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(first.IsHeld);
        await using var takenOver = await standby.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(takenOver.Lost.IsCancellationRequested);
        Assert.True(second.IsHeld);
    }

    [Fact]
    public async Task DisposingTheHeldLease_ReleasesItToTheStandby()
    {
        var database = await server.DatabaseForClassAsync(GetType());
        var first = new PostgresRelayLease(database, lockName);
        var held = await first.AcquireAsync(Ct);
        var standby = new PostgresRelayLease(database, lockName).AcquireAsync(Ct);
        await Task.Delay(700, Ct);
        Assert.False(standby.IsCompleted);

        await held.DisposeAsync();
        Assert.False(first.IsHeld);

        await using var next = await standby.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(held.Lost.IsCancellationRequested);
    }
}
