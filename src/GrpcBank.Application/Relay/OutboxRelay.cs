using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Relay;

/// <summary>
/// Streams outbox rows to every sink, then removes them: a crash in between redelivers (at-least-once),
/// never loses. Only the holder of the relay lease runs; transient sink failures back off and retry.
/// </summary>
public sealed class OutboxRelay(
    IEventStore store,
    IEnumerable<IEventSink> sinks,
    IRelayLease lease,
    RelayProgress progress,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const int BatchSize = 500;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var held = await lease.AcquireAsync(stoppingToken);
                using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, held.Lost);
                logger.LogInformation("Outbox relay active");
                foreach (var sink in sinks) await sink.StartAsync(running.Token);
                await RunAsync(running.Token);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Outbox relay failed; retrying in {Backoff}", backoff);
                await Task.Delay(backoff, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                continue;
            }
            backoff = TimeSpan.FromMilliseconds(100);
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var drained = await PumpOnceAsync(ct);
            if (drained) await store.Outbox.WaitForPendingAsync(PollInterval, ct);
        }
    }

    /// <summary>Delivers one batch. True when the outbox had no more than one batch pending.</summary>
    public async Task<bool> PumpOnceAsync(CancellationToken ct)
    {
        var batch = await store.Outbox.ReadPendingAsync(BatchSize, ct);
        if (batch.Events.Count == 0 && batch.Watermark <= progress.Watermark) return true;
        foreach (var sink in sinks)
            await sink.HandleAsync(batch.Events, batch.Watermark, ct);
        if (batch.Events.Count > 0) await store.Outbox.CompleteAsync(batch, ct);
        progress.Advance(batch.Watermark, batch.Events.Count);
        return batch.Events.Count < BatchSize;
    }
}
