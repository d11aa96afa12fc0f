using GrpcBank.Application.Relay;
using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// Wakes the relay when an append commits: LISTEN on a dedicated, unpooled connection, reconnecting when it
/// breaks. Notifications are only a nudge (they vanish while disconnected); waiters also time out and poll. The store's
/// own appends wake it directly (<see cref="Signal"/>), so a notification carrying its own payload
/// (see <see cref="OutboxNotifier"/>) is ignored: heard again a moment later, it had each consumer read the outbox a
/// second time per append, to find nothing (at one caller, half of the relay's reads).
/// </summary>
internal sealed class OutboxListener : IAsyncDisposable
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    private readonly string connectionString;
    private readonly string channel;
    private readonly string ownPayload;
    private readonly WakeUp wakeUp = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock gate = new();
    private Task? loop;

    public OutboxListener(string connectionString, string channel, string ownPayload)
    {
        this.connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, KeepAlive = 10 }.ConnectionString;
        this.channel = channel;
        this.ownPayload = ownPayload;
    }

    public void Signal() => wakeUp.Signal();

    /// <summary>Read it before looking at the outbox, and pass it to <see cref="WaitAsync"/>: no wake-up is lost in between.</summary>
    public long Generation => wakeUp.Generation;

    public Task WaitAsync(TimeSpan timeout, long seenGeneration, CancellationToken ct)
    {
        lock (gate) loop ??= Task.Run(() => ListenAsync(stopping.Token));
        return wakeUp.WaitAsync(timeout, ct, seenGeneration);
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(ct);
                connection.Notification += (_, e) =>
                {
                    if (e.Payload != ownPayload) wakeUp.Signal();
                };
                await using (var listen = new NpgsqlCommand($"listen {channel}", connection))
                    await listen.ExecuteNonQueryAsync(ct);
                // Whatever was notified while we were not listening is lost: let waiters look.
                wakeUp.Signal();
                while (true) await connection.WaitAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                // Whatever broke the connection, listen again: a dead listener would leave only the polling.
                await Task.Delay(ReconnectDelay, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        Task? running;
        lock (gate) running = loop;
        if (running is not null) await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        stopping.Dispose();
    }
}
