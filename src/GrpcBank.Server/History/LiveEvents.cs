using GrpcBank.Application;
using GrpcBank.Server.Hosting;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;

namespace GrpcBank.Server.History;

/// <summary>
/// One watcher of the event store for every live subscription: it learns the newest readable position and wakes the
/// subscriptions waiting past it. It looks when this server's relay delivers (right after each append here) and, for
/// appends by other servers, every <c>Subscriptions:PollInterval</c> (default 250 ms) while anyone subscribes: one read
/// per interval for the whole server, however many subscriptions wait.
/// </summary>
public sealed class LiveEvents(IEventStore store, RelayProgress progress, IConfiguration configuration, ILogger<LiveEvents> logger)
    : BackgroundService
{
    private readonly TimeSpan pollInterval = Setting.Wait(configuration, "Subscriptions:PollInterval", TimeSpan.FromMilliseconds(250));
    private readonly WakeUp moved = new();
    private readonly WakeUp subscribed = new();
    private long readable;
    private int waiting;

    /// <summary>
    /// A subscription (or the watcher) read up to <paramref name="position"/>: it is readable, the watcher need not look
    /// below it, and the subscriptions waiting below it are woken.
    /// </summary>
    /// <remarks>
    /// The wake-up is here, not only after the watcher's look: the watcher signals only when it finds more than is known
    /// readable, so a subscription that read past another's wait and raised the mark first left that one asleep until
    /// the next append, for good once the writes stopped (two servers on one PostgreSQL, a subscriber 200 events short).
    /// </remarks>
    public void Observe(long position)
    {
        long seen;
        while ((seen = Interlocked.Read(ref readable)) < position)
        {
            if (Interlocked.CompareExchange(ref readable, position, seen) != seen) continue;
            moved.Signal();
            return;
        }
    }

    /// <summary>Returns once an event after <paramref name="position"/> can be read.</summary>
    public async Task WaitPastAsync(long position, CancellationToken ct)
    {
        Interlocked.Increment(ref waiting);
        subscribed.Signal();
        try
        {
            while (true)
            {
                var generation = moved.Generation;
                if (Interlocked.Read(ref readable) > position) return;
                await moved.WaitAsync(Timeout.InfiniteTimeSpan, ct, generation);
            }
        }
        finally
        {
            Interlocked.Decrement(ref waiting);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        var outage = new OutageLog(logger);
        while (!ct.IsCancellationRequested)
        {
            var delivered = progress.Advanced.Generation;
            var joined = subscribed.Generation;
            if (Volatile.Read(ref waiting) > 0)
            {
                try
                {
                    await LookAsync(ct);
                    outage.Worked("Live subscriptions read the event store again");
                }
                catch (Exception) when (ct.IsCancellationRequested)
                {
                    // The server stops: a failure now is the stop's doing, not one to stop the host over (HoldExpiry).
                    return;
                }
                catch (Exception e)
                {
                    // An outage fails every look, one per poll interval for as long as it lasts: one warning (OutageLog),
                    // not four a second with their stack traces.
                    outage.Failed(e, "Live subscriptions could not read the event store; trying again every {Interval} until it works", pollInterval);
                }
                await progress.Advanced.WaitAsync(pollInterval, ct, delivered);
            }
            else
            {
                // Nobody waits: no reads until someone does.
                await subscribed.WaitAsync(Timeout.InfiniteTimeSpan, ct, joined);
            }
        }
    }

    private async Task LookAsync(CancellationToken ct)
    {
        const int Batch = 1_000;
        var known = Interlocked.Read(ref readable);
        // Everything up to the relay's watermark is settled, so the scan starts there at the latest.
        var newest = Math.Max(known, progress.Watermark);
        if (newest == 0) newest = await SettledNearTheHeadAsync(Batch, ct);
        IReadOnlyList<RecordedEvent> events;
        do
        {
            events = await store.ReadAllAsync(newest, Batch, ct);
            if (events.Count > 0) newest = events[^1].Position;
        }
        while (events.Count == Batch);
        Observe(newest);
    }

    /// <summary>
    /// The last readable event among the newest <paramref name="batch"/> positions, or 0: where the first look of a server
    /// whose relay runs elsewhere (or not at all: its watermark stays 0) starts, when no subscription has read anything
    /// yet. From 0 it read the whole store, a batch at a time, before a subscriber at the head heard of its first event.
    /// </summary>
    private async Task<long> SettledNearTheHeadAsync(int batch, CancellationToken ct)
    {
        var head = await store.HeadPositionAsync(ct);
        if (head <= batch) return 0;
        var near = await store.ReadAllAsync(head - batch, batch, ct);
        return near.Count > 0 ? near[^1].Position : 0;
    }
}
