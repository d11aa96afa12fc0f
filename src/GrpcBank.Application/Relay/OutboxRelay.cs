using System.Diagnostics;
using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Relay;

/// <summary>
/// Streams outbox rows to every sink, then removes them: a crash in between redelivers (at-least-once),
/// never loses. A batch holds whole appends (see <see cref="IOutbox.ReadPendingAsync"/>) and goes to each sink in one
/// call, so a sink that applies a call atomically never shows half an append. Only the holder of the relay lease runs. Transient failures back off and retry the batch; an
/// event a sink cannot handle because of its data is dead-lettered (<see cref="PoisonEvents"/>).
/// </summary>
public sealed class OutboxRelay(
    IEventStore store,
    IEnumerable<IEventSink> sinks,
    IRelayLease lease,
    RelayProgress progress,
    TimeProvider clock,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const int BatchSize = 500;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>How often the active relay reads the head position for the lag gauge (one cheap query at most).</summary>
    private static readonly TimeSpan HeadRefresh = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The relay's spans continue the traces stored in event metadata, never whatever started the host.
        Activity.Current = null;
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var held = await lease.AcquireAsync(stoppingToken);
                using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, held.Lost);
                progress.SetActive(true);
                using var lag = Telemetry.ReportLag(progress);
                logger.LogInformation("Outbox relay active");
                foreach (var sink in sinks) await sink.StartAsync(running.Token);
                await RunAsync(running.Token, () => backoff = TimeSpan.FromMilliseconds(100));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                progress.Failed(e);
                logger.LogError(e, "Outbox relay failed; retrying in {Backoff}", backoff);
                await Task.Delay(backoff, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
            finally
            {
                progress.SetActive(false);
            }
        }
    }

    private async Task RunAsync(CancellationToken ct, Action succeeded)
    {
        while (!ct.IsCancellationRequested)
        {
            var drained = await PumpOnceAsync(ct);
            succeeded();
            if (drained) await store.Outbox.WaitForPendingAsync(PollInterval, ct);
        }
    }

    /// <summary>Delivers one batch. True when the outbox had no more than one batch pending.</summary>
    public async Task<bool> PumpOnceAsync(CancellationToken ct)
    {
        if (clock.GetUtcNow() - progress.HeadReadAt >= HeadRefresh)
            progress.ObserveHead(await store.HeadPositionAsync(ct), clock.GetUtcNow());
        var batch = await store.Outbox.ReadPendingAsync(BatchSize, ct);
        if (batch.Events.Count > 0 || batch.Watermark > progress.Watermark)
        {
            foreach (var sink in sinks) await DeliverAsync(sink, batch, ct);
            if (batch.Events.Count > 0) await store.Outbox.CompleteAsync(batch, ct);
            progress.Advance(batch.Watermark, batch.Events.Count);
        }
        progress.Passed(clock.GetUtcNow());
        return batch.Events.Count < BatchSize;
    }

    private async Task DeliverAsync(IEventSink sink, OutboxBatch batch, CancellationToken ct)
    {
        using var activity = Telemetry.StartDelivery(sink.Name, batch.Events, batch.Watermark);
        try
        {
            var deadLettered = await PoisonEvents.HandleAsync(sink.Name, batch.Appends, batch.Watermark,
                (events, watermark) => sink.HandleAsync(events, watermark, ct), store.DeadLetters, clock, logger, ct);
            activity?.SetTag("grpcbank.dead_letters", deadLettered);
            if (batch.Events.Count > deadLettered)
                Telemetry.RelayDelivered.Add(batch.Events.Count - deadLettered, new KeyValuePair<string, object?>("sink", sink.Name));
        }
        catch (Exception e)
        {
            activity.Failed(e);
            throw;
        }
    }
}
