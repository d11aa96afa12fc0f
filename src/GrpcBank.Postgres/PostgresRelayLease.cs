using GrpcBank.Application.Relay;
using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// Elects the single active relay with a session advisory lock held on a dedicated, unpooled connection
/// (a pooled one would keep the lock on the server after being returned). Standbys retry every
/// <c>pollInterval</c>. The lease is lost when that connection dies, which a cheap query notices.
/// Session locks do not survive transaction-pooling proxies (PgBouncer in transaction mode): connect directly.
/// </summary>
public sealed class PostgresRelayLease : IRelayLease
{
    public const string DefaultLockName = "grpcbank.relay";

    /// <summary>
    /// The lock's key: its name, qualified by the schema the bank's tables are in (the first of the connection's search
    /// path that exists), so that banks in two schemas of one database each run a relay. Advisory locks are the database's,
    /// not a schema's: keyed by the name alone, the first bank's relay locked out every other bank's, whose read side then
    /// never moved. In <c>public</c>, the default, the key is the name alone, as in earlier releases, so a rolling upgrade
    /// there never runs two relays at once.
    /// </summary>
    private const string LockKey = "hashtext($1 || coalesce('.' || nullif(current_schema(), 'public'), ''))";

    private readonly string connectionString;
    private readonly string lockName;
    private readonly TimeSpan pollInterval;
    private readonly TimeSpan checkInterval;
    private volatile Held? current;

    public PostgresRelayLease(string connectionString, string lockName = DefaultLockName, TimeSpan? pollInterval = null, TimeSpan? checkInterval = null)
    {
        this.connectionString = LeaseConnectionString(connectionString);
        this.lockName = lockName;
        this.pollInterval = pollInterval ?? TimeSpan.FromMilliseconds(500);
        this.checkInterval = checkInterval ?? TimeSpan.FromSeconds(1);
    }

    /// <summary>
    /// The lease's connection: unpooled, pinged by the holder's watchdog (a holder cut off finds its lease lost within
    /// seconds), and one whose PostgreSQL backend probes the holder in turn. An idle backend otherwise notices a holder
    /// cut off by the network (no FIN, no RST) only when the kernel's keepalive gives up, two hours and more by default,
    /// and holds the lock, with every standby locked out, all that time. With the settings below it gives up after about
    /// 10 s without an answer (the holder pings each second, so a live one is never probed).
    /// </summary>
    internal static string LeaseConnectionString(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            KeepAlive = 10,
            CommandTimeout = 5,
        };
        builder.Options = $"{builder.Options} -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=5 -c tcp_user_timeout=10000".Trim();
        return builder.ConnectionString;
    }

    /// <summary>
    /// Whether this process holds the lease now, as far as it knows: from the lock's grant until it is released or its
    /// connection is found dead (within the check interval). No other process's relay runs meanwhile.
    /// </summary>
    public bool IsHeld => current is { Active: true };

    /// <summary>
    /// Keeps every server's relay from starting until <paramref name="tx"/> ends, unless one runs now (then false): the
    /// one home of "is the relay running elsewhere". A read store asks before it replaces another release's views with
    /// empty ones, which only a relay that starts afterwards refills; one already running would feed them only new events.
    /// </summary>
    public static async Task<bool> TryHoldOffAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct, string lockName = DefaultLockName)
    {
        await using var command = new NpgsqlCommand($"select pg_try_advisory_xact_lock({LockKey})", connection, tx)
        {
            Parameters = { new() { Value = lockName } },
        };
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// <see cref="TryHoldOffAsync(NpgsqlConnection, NpgsqlTransaction, CancellationToken, string)"/> for a store outside
    /// PostgreSQL: the hold, kept (on a connection of its own) until disposed, or null while another server runs the
    /// relay. When this process runs it, there is nothing to hold off: its relay refills an empty read store as it starts,
    /// and it is the one asking (a read store set up at its first use). Servers asking at once take turns, so that one
    /// starting beside another that holds the relay off (for as long as it replaces the views) waits rather than reads
    /// that hold as a running relay; it then finds the views replaced.
    /// </summary>
    public async Task<IAsyncDisposable?> HoldOffAsync(CancellationToken ct)
    {
        if (IsHeld) return new NoHold();
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(ct);
            var tx = await connection.BeginTransactionAsync(ct);
            // Waited for as long as the other server replaces views (no command timeout); a stop asked meanwhile ends it.
            await using (var turn = new NpgsqlCommand($"select pg_advisory_xact_lock({LockKey})", connection, tx)
                         {
                             CommandTimeout = 0, Parameters = { new() { Value = $"{lockName}.held-off" } },
                         })
                await turn.ExecuteNonQueryAsync(ct);
            // Unpooled: closing the connection ends its transaction, and the hold with it.
            if (await TryHoldOffAsync(connection, tx, ct, lockName)) return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return null;
    }

    private sealed class NoHold : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public async Task<Lease> AcquireAsync(CancellationToken ct)
    {
        while (true)
        {
            var connection = new NpgsqlConnection(connectionString);
            try
            {
                await connection.OpenAsync(ct);
                while (true)
                {
                    if (await ScalarAsync<bool>(connection, $"select pg_try_advisory_lock({LockKey})", ct))
                    {
                        var held = Held.Start(connection, lockName, checkInterval);
                        current = held;
                        return new Lease(held.Lost, held);
                    }
                    await Task.Delay(pollInterval, ct);
                }
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException && !ct.IsCancellationRequested)
            {
                await connection.DisposeAsync();
                await Task.Delay(pollInterval, ct);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken token)
        {
            await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = lockName } } };
            return (T)(await command.ExecuteScalarAsync(token))!;
        }
    }

    /// <summary>A held lock: a watchdog pings the connection and fires <c>lost</c> when it fails.</summary>
    private sealed class Held : IAsyncDisposable
    {
        private readonly NpgsqlConnection connection;
        private readonly string lockName;
        private readonly CancellationTokenSource lost = new();
        private readonly CancellationTokenSource stopping = new();
        private Task watchdog = Task.CompletedTask;
        private volatile bool released;

        private Held(NpgsqlConnection connection, string lockName)
        {
            this.connection = connection;
            this.lockName = lockName;
        }

        public static Held Start(NpgsqlConnection connection, string lockName, TimeSpan checkInterval)
        {
            var held = new Held(connection, lockName);
            held.watchdog = Task.Run(() => held.WatchAsync(checkInterval));
            return held;
        }

        public CancellationToken Lost => lost.Token;

        public bool Active => !released && !lost.IsCancellationRequested;

        private async Task WatchAsync(TimeSpan checkInterval)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(checkInterval, stopping.Token);
                    await using var ping = new NpgsqlCommand("select 1", connection);
                    await ping.ExecuteScalarAsync(stopping.Token);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
            catch (Exception)
            {
                // The connection is gone, and the server released the lock with it.
                await lost.CancelAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            released = true;
            await stopping.CancelAsync();
            await watchdog;
            if (!lost.IsCancellationRequested)
            {
                try
                {
                    await using var unlock = new NpgsqlCommand($"select pg_advisory_unlock({LockKey})", connection)
                    {
                        Parameters = { new() { Value = lockName } },
                    };
                    await unlock.ExecuteScalarAsync();
                }
                catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
                {
                    // Closing the connection below releases the lock anyway.
                }
            }
            await connection.DisposeAsync();
            lost.Dispose();
            stopping.Dispose();
        }
    }
}
