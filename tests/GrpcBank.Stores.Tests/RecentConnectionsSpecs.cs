using GrpcBank.Postgres;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Stores.Tests;

/// <summary>The PostgreSQL store's connections: the last given back is the next handed out, and a dead one never is.</summary>
public sealed class RecentConnectionsSpecs(PostgresServer server) : IAsyncLifetime
{
    private NpgsqlDataSource source = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => source = NpgsqlDataSource.Create(await server.DatabaseForClassAsync(GetType()));

    public async ValueTask DisposeAsync() => await source.DisposeAsync();

    [Fact]
    public async Task TheConnectionGivenBackLast_IsTheNextHandedOut()
    {
        await using var connections = new RecentConnections(source, keep: 8);
        var (first, second, third) = (await connections.OpenAsync(Ct), await connections.OpenAsync(Ct), await connections.OpenAsync(Ct));
        var pids = new[] { first, second, third }.Select(c => c.Connection.ProcessID).ToArray();
        Assert.Equal(3, pids.Distinct().Count());
        await second.DisposeAsync();
        await first.DisposeAsync();
        await third.DisposeAsync();

        // A lone caller's statements, one after another, all run on the server process given back last.
        for (var statement = 0; statement < 10; statement++)
        {
            await using var rented = await connections.OpenAsync(Ct);
            Assert.Equal(pids[2], await BackendPidAsync(rented.Connection));
        }
    }

    [Fact]
    public async Task BeyondTheKeptNumber_ConnectionsGoBackToThePool_AndTheKeptOnesComeOutNewestFirst()
    {
        await using var connections = new RecentConnections(source, keep: 2);
        var rented = new[] { await connections.OpenAsync(Ct), await connections.OpenAsync(Ct), await connections.OpenAsync(Ct) };
        var pids = rented.Select(c => c.Connection.ProcessID).ToArray();
        foreach (var connection in rented) await connection.DisposeAsync();

        // Kept: the first two given back, newest first; the third went back to the pool.
        var (newest, older) = (await connections.OpenAsync(Ct), await connections.OpenAsync(Ct));
        Assert.Equal([pids[1], pids[0]], [newest.Connection.ProcessID, older.Connection.ProcessID]);
        await older.DisposeAsync();
        await newest.DisposeAsync();
    }

    [Fact]
    public async Task AConnectionWhoseServerProcessEnded_IsNotHandedOutAgain_AndTheNextOneWorks()
    {
        await using var connections = new RecentConnections(source, keep: 8);
        int dead;
        await using (var rented = await connections.OpenAsync(Ct))
        {
            dead = rented.Connection.ProcessID;
            await using (var admin = new NpgsqlConnection(source.ConnectionString))
            {
                await admin.OpenAsync(Ct);
                await using var kill = new NpgsqlCommand("select pg_terminate_backend($1)", admin) { Parameters = { new() { Value = dead } } };
                await kill.ExecuteScalarAsync(Ct);
            }
            // The user finds out; the connection is broken by then, and giving it back closes it.
            await EventStoreProbes.Eventually(async () =>
            {
                try
                {
                    await BackendPidAsync(rented.Connection);
                    return false;
                }
                catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
                {
                    return true;
                }
            });
        }

        await using var next = await connections.OpenAsync(Ct);
        Assert.NotEqual(dead, await BackendPidAsync(next.Connection));
    }

    private static async Task<int> BackendPidAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("select pg_backend_pid()", connection);
        return (int)(await command.ExecuteScalarAsync(Ct))!;
    }
}
