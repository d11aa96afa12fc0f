using System.Diagnostics;
using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Relay;

/// <summary>
/// Streams outbox rows to each sink, each from its own checkpoint: a sink that is down or slow backs off and retries on
/// its own while the others keep going, and catches up from where it stopped. A checkpoint moves only after the sink
/// has handled the batch, so a crash in between redelivers (at-least-once), never loses; rows every sink has passed are
/// trimmed. A batch holds whole appends (see <see cref="IOutbox.ReadPendingAsync"/>) and goes to the sink in one call,
/// so a sink that applies a call atomically never shows half an append. Only the holder of the relay lease runs. An
/// event a sink cannot handle because of its data is dead-lettered for that sink (<see cref="PoisonEvents"/>). Sinks at
/// the same checkpoint share one read of the outbox (<see cref="SharedReads"/>).
/// </summary>
public sealed class OutboxRelay(
    IEventStore store,
    IEnumerable<IEventSink> sinks,
    IRelayLease lease,
    RelayProgress progress,
    TimeProvider clock,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    /// <summary>Events per batch at most (more to keep an append whole): large, so a backlog drains in few read-store transactions.</summary>
    public int BatchSize { get; init; } = 5_000;

    /// <summary>How often an idle consumer looks without a wake-up (appends in another process, a lost notification).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Events in a consumer's last batch from which it counts as busy: its next read then starts no sooner than
    /// <see cref="BusyCycle"/> after the last one did. Under sustained load each sink call (one read-store transaction)
    /// then carries the appends of a whole cycle instead of those of one group commit, which cost
    /// the server and the database more per event than the commands themselves. After a smaller batch the next read
    /// waits for <see cref="QuietCycle"/>; after a read that found nothing, the next append is delivered at once.
    /// </summary>
    public int BusyBatch { get; init; } = DefaultBusyBatch;

    public const int DefaultBusyBatch = 8;

    /// <summary>The shortest time from one read to the next of a busy consumer (see <see cref="BusyBatch"/>); zero: no pause.</summary>
    public TimeSpan BusyCycle { get; init; } = DefaultBusyCycle;

    /// <summary>
    /// 25 ms: a read-store transaction costs about as much for a few events as for many (the pages it rewrites, its fsync,
    /// the outbox read), so at saturation the relay's share of the cores follows how often it reads. Against 10 ms, in
    /// interleaved rounds of <c>cost</c>: embedded deposits at 16 callers 4,714–4,718 → 4,921–4,994/s, PostgreSQL deposits
    /// at 64 callers 4,541–5,601 → 5,740–5,847/s (server CPU per deposit 129–152 → 105–111 µs). It adds at most that much
    /// to how soon a write can be read under load, far inside the 100 ms freshness target.
    /// </summary>
    public static readonly TimeSpan DefaultBusyCycle = TimeSpan.FromMilliseconds(25);

    /// <summary>
    /// The shortest time from one read to the next of a consumer whose last batch had events, fewer than
    /// <see cref="BusyBatch"/>; zero: no pause. A lone caller's commands, a millisecond or two apart, otherwise each cost
    /// a read and a read-store transaction of their own while the next command runs: at one caller, pacing them cut the
    /// server's CPU per command by 12–44 % and a command's p50 by 10–47 % (interleaved A/Bs, both stores). A few
    /// milliseconds gather the commands of the cycle into one call, and add at most that much to how soon a write can be
    /// read. Over PostgreSQL, where each read is a database transaction, the server's default is the busy cycle instead.
    /// </summary>
    public TimeSpan QuietCycle { get; init; } = DefaultQuietCycle;

    public static readonly TimeSpan DefaultQuietCycle = TimeSpan.FromMilliseconds(3);

    /// <summary>
    /// First wait before looking again when a consumer has been given events its watermark does not cover yet, or its
    /// read found positions not settled yet (on PostgreSQL a position settles only at the look after the one that read
    /// it, and a row committed behind a transaction still running is not read at all): doubled while nothing settles, up
    /// to <see cref="MaxSettleRetry"/>. Without it a read-your-writes wait would last until the next append or poll.
    /// </summary>
    private static readonly TimeSpan SettleRetry = TimeSpan.FromMilliseconds(2);
    /// <summary>
    /// The longest of those waits (or <see cref="PollInterval"/> if shorter). Settling waits for older transactions to end —
    /// on PostgreSQL those of every database of the cluster — and no wake-up announces that, so a busy cluster must not
    /// double the wait into seconds while a read waits for the position.
    /// </summary>
    private static readonly TimeSpan MaxSettleRetry = TimeSpan.FromMilliseconds(50);

    /// <summary>How often the outbox is trimmed below the slowest sink (one delete; rows left meanwhile are only space).</summary>
    private static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often the active relay reads the head position for the lag gauge (one cheap query at most).</summary>
    private static readonly TimeSpan HeadRefresh = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether a consumer's failure is the infrastructure's passing trouble (the database restarting, read-only, its
    /// sessions ended; a broker away): the edge's judgement (<c>TransientFailures</c>), since this layer knows no
    /// drivers. An outage fails every retry alike, so those cost one warning per outage (<see cref="OutageLog"/>); an
    /// error with its stack trace at each retry, the wait doubling from 0.1 s, grew the log for as long as it lasted.
    /// Any other failure is a fault to look into: an error, with its stack trace, at each retry. None by default.
    /// </summary>
    public Func<Exception, bool> IsTransient { get; init; } = _ => false;

    private readonly IReadOnlyList<IEventSink> consumers = [.. sinks];

    /// <summary>Each consumer's outage, kept across leases: ended sessions end the lease too, and a warning each time it is taken again is one per retry.</summary>
    private readonly Dictionary<string, OutageLog> outages = sinks.ToDictionary(s => s.Name, _ => new OutageLog(logger), StringComparer.Ordinal);
    private readonly SharedReads shared = new(enabled: sinks.Count() > 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, OutboxBatch> lastTaken = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The relay's spans continue the traces stored in event metadata, never whatever started the host.
        Activity.Current = null;
        var backoff = new Backoff();
        while (!stoppingToken.IsCancellationRequested)
        {
            var lost = CancellationToken.None;
            try
            {
                await using var held = await lease.AcquireAsync(stoppingToken);
                lost = held.Lost;
                using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, held.Lost);
                progress.SetActive(true);
                shared.Reset();
                using var lag = Telemetry.ReportLag(progress);
                logger.LogInformation("Outbox relay active");
                backoff.Succeeded();
                await Task.WhenAll([.. consumers.Select(sink => DriveAsync(sink, running.Token)), TrimAsync(running.Token)]);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping: the consumers' connections may fail under them as the stores close (not only with a
                // cancellation); that is the stop's doing, not the relay's failure.
                return;
            }
            catch (Exception) when (lost.IsCancellationRequested)
            {
                // Not a fault of the relay's, and no stack trace helps: the lease's connection failed (the database
                // restarted, the network dropped), which let the lease go. The consumers stopped with it; the next
                // acquisition waits for the database and for any other server that took the lease meanwhile.
                logger.LogWarning("Outbox relay lease lost (the connection that held it failed); this server delivers again once it takes the lease back");
            }
            catch (Exception e)
            {
                var wait = backoff.Failed();
                logger.LogError(e, "Outbox relay failed; retrying in {Backoff}", wait);
                await Task.Delay(wait, clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            finally
            {
                progress.SetActive(false);
            }
        }
    }

    /// <summary>Feeds one sink until the lease ends; its failures back off here and touch no other sink.</summary>
    private async Task DriveAsync(IEventSink sink, CancellationToken ct)
    {
        var consumer = progress.For(sink.Name);
        var outage = outages[sink.Name];
        var backoff = new Backoff();
        while (true)
        {
            try
            {
                await sink.StartAsync(() => consumer.Passed(clock.GetUtcNow()), ct);
                // After the sink's start, which may replay an empty read store from the event store (behind by all of it meanwhile).
                consumer.HandledUpTo(await store.Outbox.CheckpointAsync(sink.Name, ct));
                await DeliverSkippedAsync(sink, ct);
                var settleWait = SettleRetry;
                while (true)
                {
                    var watermark = consumer.Watermark;
                    var started = clock.GetTimestamp();
                    var drained = await PumpOnceAsync(sink, ct);
                    backoff.Succeeded();
                    outage.Worked("Relay consumer {Consumer} delivers again", sink.Name);
                    if (!drained) continue;
                    var taken = lastTaken[sink.Name].Events.Count;
                    var cycle = taken >= BusyBatch ? BusyCycle : taken > 0 ? QuietCycle : TimeSpan.Zero;
                    if (cycle - clock.GetElapsedTime(started) is { Ticks: > 0 } rest) await Task.Delay(rest, clock, ct);
                    if (consumer.Watermark > watermark) settleWait = SettleRetry;
                    // Another consumer has already read (or is reading) what comes next for this one.
                    if (shared.HasReadFor(sink.Name)) continue;
                    if (consumer.Watermark >= consumer.HighestDelivered && !(lastTaken.TryGetValue(sink.Name, out var read) && read.Unsettled))
                        await WaitForPendingAsync(sink, PollInterval, ct);
                    else
                    {
                        await WaitForPendingAsync(sink, settleWait, ct);
                        settleWait = TimeSpan.FromTicks(Math.Min(settleWait.Ticks * 2, Math.Min(MaxSettleRetry.Ticks, PollInterval.Ticks)));
                    }
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                consumer.Failed(e);
                var wait = backoff.Failed();
                if (IsTransient(e))
                    outage.Failed(e, "Relay consumer {Consumer} cannot deliver for now (a transient fault); retrying, at intervals growing to {Longest}, until it works",
                        sink.Name, Backoff.Longest);
                else logger.LogError(e, "Relay consumer {Consumer} failed; retrying in {Backoff}", sink.Name, wait);
                await Task.Delay(wait, clock, ct);
            }
        }
    }

    /// <summary>
    /// Gives <paramref name="sink"/> the events whose outbox rows were trimmed while it was switched off
    /// (<see cref="IOutbox.SkippedFromAsync"/>), read from the event store in position order (which keeps each stream's
    /// order), before it goes on from its checkpoint. They were all committed before this relay took the lease, so the
    /// head read now covers them. What it had before it stopped, and the outbox rows still kept for it, come again
    /// (at-least-once). An append's events may be split between two calls here: a sink that is never switched off on its
    /// own (the read side, the payment process) never gets this.
    /// </summary>
    private async Task DeliverSkippedAsync(IEventSink sink, CancellationToken ct)
    {
        if (await store.Outbox.SkippedFromAsync(sink.Name, ct) is not { } from) return;
        var head = await store.HeadPositionAsync(ct);
        progress.ObserveHead(head, clock.GetTimestamp());
        logger.LogWarning("Relay consumer {Consumer} was switched off while the outbox was trimmed past its checkpoint; delivering positions {From} to {Head} from the event store first",
            sink.Name, from, head);
        var consumer = progress.For(sink.Name);
        var watermark = consumer.Watermark;
        for (var after = from - 1; after < head;)
        {
            var events = await store.ReadAllAsync(after, BatchSize, ct);
            if (events.Count == 0)
            {
                // Positions up to the head not settled yet (PostgreSQL: a transaction still running elsewhere drew one).
                await Task.Delay(SettleRetry, clock, ct);
                continue;
            }
            await DeliverAsync(sink, new OutboxBatch([.. events.Select(e => (IReadOnlyList<RecordedEvent>)[e])], watermark), ct);
            // A heartbeat per page: a catch-up of a long time switched off takes minutes, and a consumer that delivers
            // is not one stuck (grpcbank.relay.heartbeat, GrpcBankConsumerNotHeartbeating).
            consumer.Passed(clock.GetUtcNow());
            after = events[^1].Position;
            // Its lag falls as it delivers (grpcbank.relay.lag), where it stood at the checkpoint it was switched off at
            // until the whole catch-up was done.
            consumer.HandledUpTo(after);
            if (after < head) await store.Outbox.SetSkippedFromAsync(sink.Name, after + 1, ct);
        }
        await store.Outbox.SetSkippedFromAsync(sink.Name, null, ct);
        logger.LogInformation("Relay consumer {Consumer} has been given the events skipped while it was switched off", sink.Name);
    }

    /// <summary>Waits for appends after the read that gave <paramref name="sink"/> its last batch (its own, or another's it took).</summary>
    private Task WaitForPendingAsync(IEventSink sink, TimeSpan timeout, CancellationToken ct) =>
        lastTaken.TryGetValue(sink.Name, out var read)
            ? store.Outbox.WaitForPendingAsync(sink.Name, read, timeout, ct)
            : store.Outbox.WaitForPendingAsync(sink.Name, timeout, ct);

    private async Task TrimAsync(CancellationToken ct)
    {
        string[] names = [.. consumers.Select(s => s.Name)];
        var outage = new OutageLog(logger);
        while (true)
        {
            await Task.Delay(TrimInterval, ct);
            try
            {
                await store.Outbox.TrimAsync(names, ct);
                outage.Worked("Outbox trim works again");
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // An outage (a full disk, the database down) fails every try: one warning, not one a second (OutageLog).
                // Rows left meanwhile are only space.
                outage.Failed(e, "Outbox trim failed; trying again every {Interval} until it works", TrimInterval);
            }
        }
    }

    /// <summary>Delivers one batch to <paramref name="sink"/>. True when it had no more than one batch pending.</summary>
    public async Task<bool> PumpOnceAsync(IEventSink sink, CancellationToken ct)
    {
        var consumer = progress.For(sink.Name);
        if (progress.HeadReadAt is not { } readAt || clock.GetElapsedTime(readAt) >= HeadRefresh)
            progress.ObserveHead(await store.HeadPositionAsync(ct), clock.GetTimestamp());
        var (batch, cut) = await shared.ReadAsync(sink.Name, consumer.Watermark, BatchSize, () => store.Outbox.ReadPendingAsync(sink.Name, BatchSize, ct));
        lastTaken[sink.Name] = batch;
        if (batch.Events.Count > 0 || batch.Watermark > consumer.Watermark)
        {
            await DeliverAsync(sink, batch, ct);
            await store.Outbox.CompleteAsync(sink.Name, batch, ct);
            consumer.Advance(batch.Watermark, batch.Events);
            shared.Completed(sink.Name, batch);
        }
        consumer.Passed(clock.GetUtcNow());
        return !cut && batch.Events.Count < BatchSize;
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
