using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// Tells relays in other processes that the outbox has news: one NOTIFY per burst of appends, sent after they
/// committed and outside their transactions. (A NOTIFY inside the append would take PostgreSQL's cluster-wide
/// notify lock until the commit is flushed, making every append commit one at a time.) A lost nudge costs a
/// relay one poll interval, never an event.
/// </summary>
internal sealed class OutboxNotifier : IAsyncDisposable
{
    private readonly NpgsqlDataSource dataSource;
    private readonly string sql;
    private readonly SemaphoreSlim pending = new(0, 1);
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;

    public OutboxNotifier(NpgsqlDataSource dataSource, string channel)
    {
        this.dataSource = dataSource;
        sql = $"select pg_notify('{channel}', '')";
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
                await using var command = dataSource.CreateCommand(sql);
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
