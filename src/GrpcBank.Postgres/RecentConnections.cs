using System.Collections.Concurrent;
using System.Data;
using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// The store's connections, handed out most recently used first. Npgsql's pool hands out its idle connections oldest
/// first, so consecutive statements went to each of its server processes in turn: after a burst had grown the pool to
/// some twenty, a lone caller's appends, stream reads and relay reads each ran on a process that had not run for a
/// while, with its caches cold, and on this kind of virtual machine a switch between processes costs more than most of
/// these statements. Here the last connection given back is the next one handed out, so only as many server processes
/// stay busy as statements run at once. Up to <paramref name="keep"/> idle connections are kept open (more than a
/// server runs statements at once on its store); the rest go back to the pool.
/// </summary>
/// <remarks>
/// A connection holds no session state between uses (every setting is transaction-local, as with the pool's
/// <c>No Reset On Close</c>), so handing one to the next user needs no reset. One that is no longer open (a lost
/// connection, a statement cut short) goes back to the pool, which discards it, and takes the idle ones with it. The pool's own settings (its size, a
/// connection lifetime) apply to connections as they go back to it, not to the few kept here meanwhile.
/// </remarks>
internal sealed class RecentConnections(NpgsqlDataSource source, int keep = 8) : IAsyncDisposable
{
    private readonly ConcurrentStack<NpgsqlConnection> idle = new();
    private volatile bool disposed;

    public async ValueTask<Rented> OpenAsync(CancellationToken ct)
    {
        while (idle.TryPop(out var connection))
        {
            if (connection.FullState == ConnectionState.Open) return new Rented(this, connection);
            await connection.DisposeAsync();
        }
        return new Rented(this, await source.OpenConnectionAsync(ct));
    }

    private async ValueTask ReturnAsync(NpgsqlConnection connection)
    {
        if (connection.FullState != ConnectionState.Open && !disposed)
        {
            // A lost connection (PostgreSQL restarted, the network failed) says the idle ones were most likely lost with
            // it, and each would fail the next statement given to it: close them, and the pool's, so that statements
            // after this one open fresh connections instead of failing one by one.
            await connection.DisposeAsync();
            await CloseIdleAsync();
            source.Clear();
            return;
        }
        if (disposed || idle.Count >= keep)
        {
            await connection.DisposeAsync();
            return;
        }
        idle.Push(connection);
        // Given back while the store closed: not left open.
        if (disposed) await CloseIdleAsync();
    }

    private async Task CloseIdleAsync()
    {
        while (idle.TryPop(out var connection)) await connection.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        disposed = true;
        await CloseIdleAsync();
    }

    /// <summary>A connection in use; disposing it gives it back.</summary>
    public readonly struct Rented(RecentConnections owner, NpgsqlConnection connection) : IAsyncDisposable
    {
        public NpgsqlConnection Connection => connection;

        public ValueTask DisposeAsync() => owner.ReturnAsync(connection);
    }
}
