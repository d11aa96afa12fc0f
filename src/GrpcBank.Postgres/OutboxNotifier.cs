using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// Tells relays in other processes that the outbox has news: one NOTIFY per burst of appends, sent after they
/// committed and outside their transactions. (A NOTIFY inside the append would take PostgreSQL's cluster-wide
/// notify lock until the commit is flushed, making every append commit one at a time.) A lost nudge costs a
/// relay one poll interval, never an event. Each carries the sending store's payload, by which its own listener knows
/// it (<see cref="OutboxListener"/>).
/// </summary>
internal sealed class OutboxNotifier : IAsyncDisposable
{
    // A NOTIFY takes a transaction id, so its commit waits for a WAL flush like an append's, on the same disk, while the
    // next append is on its way. A nudge lost to a crash costs a poll interval, so it commits without waiting.
    private const string NotifySql = "select pg_notify($1, $2), set_config('synchronous_commit', 'off', true)";

    private readonly RecentConnections connections;
    private readonly string channel;
    private readonly string payload;
    private readonly SemaphoreSlim pending = new(0, 1);
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;

    public OutboxNotifier(RecentConnections connections, string channel, string payload)
    {
        this.connections = connections;
        this.channel = channel;
        this.payload = payload;
        loop = Task.Run(RunAsync);
    }

    public void Nudge()
    {
        // At most one nudge waits: appends arriving while a NOTIFY is on its way share the next one.
        if (pending.CurrentCount == 0)
            try
            {
                pending.Release();
            }
            catch (SemaphoreFullException)
            {
            }
    }

    private async Task RunAsync()
    {
        var ct = stopping.Token;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await pending.WaitAsync(ct);
                await using var rented = await connections.OpenAsync(ct);
                await using var command = new NpgsqlCommand(NotifySql, rented.Connection);
                command.Parameters.Add(new() { Value = channel });
                command.Parameters.Add(new() { Value = payload });
                await command.ExecuteNonQueryAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // The database is unreachable: relays fall back to polling; try again with the next append.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        stopping.Dispose();
    }
}
