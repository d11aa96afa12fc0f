using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Commands;

/// <summary>
/// Several servers on one store: each decides on its own cached folds, so a command on a stream another server wrote
/// last loses the append's guard, reads the stream again and appends once more (three round trips instead of one). Once
/// an append of this process is refused that way (<see cref="Noticed"/>), this follows the store's global order and
/// moves the cached folds on by the events other processes append (<see cref="StreamStates{TEvent, TState}.Follow"/>).
/// It goes on while this process's commands keep deciding on folds it moved (each such decision is noticed too), and
/// stops once none has for <see cref="Quiet"/>: servers whose streams no longer cross (each account routed to one) stop
/// reading one another's appends. A lone server is never refused so, and never reads anything here.
/// </summary>
/// <remarks>
/// Only a starting point gets fresher: a fold this moves is exactly the stored one at the event's version, and a
/// decision taken on a fold it has not reached yet is still caught by its append's guard.
/// </remarks>
public sealed class OtherWriters(IEventStore store, TimeProvider clock, ILogger log) : BackgroundService
{
    /// <summary>
    /// Following stops once this long has passed without a decision that met another process's append. Short: while
    /// servers share streams their decisions meet followed folds many times a second, and following that stopped too
    /// soon costs one refused append to start again; following that goes on costs every server a read of every append.
    /// </summary>
    public static readonly TimeSpan DefaultQuiet = TimeSpan.FromSeconds(2);

    /// <summary>The wait before reading again after a read that reached the end of the store.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    private const int Page = 1_000;

    private readonly SemaphoreSlim noticed = new(0, 1);
    private readonly List<Func<RecordedEvent, bool>> folds = [];
    private long lastSeen;
    private long followed;
    private volatile bool following;

    public TimeSpan Quiet { get; set; } = DefaultQuiet;

    /// <summary>Events of other processes taken into this process's folds so far.</summary>
    public long Followed => Interlocked.Read(ref followed);

    /// <summary>Whether the store's global order is being followed now (from a position taken when it started).</summary>
    public bool Following => following;

    /// <summary>The folds to keep up (each takes the events of its own streams, <see cref="StreamStates{TEvent, TState}.Follow"/>).</summary>
    public void Keep(params Func<RecordedEvent, bool>[] streamFolds) => folds.AddRange(streamFolds);

    /// <summary>A decision of this process met another process's append: its append was refused for it, or it was taken on a fold following moved on.</summary>
    public void Noticed()
    {
        Interlocked.Exchange(ref lastSeen, clock.GetTimestamp());
        if (!Following && noticed.CurrentCount == 0)
        {
            try
            {
                noticed.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another caller woke it first.
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await noticed.WaitAsync(stoppingToken);
            try
            {
                // Appends before now reach the cache through the refusals that noticed them; from here on, through this.
                var position = await store.HeadPositionAsync(stoppingToken);
                following = true;
                log.LogDebug("Another process writes this store: following its appends into the cached states");
                await FollowAsync(position, stoppingToken);
                log.LogDebug("No decision met another process's append for {Quiet}: no longer following", Quiet);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Nothing depends on it but how often commands lose races: try again at the next one.
                log.LogWarning(e, "Following other processes' appends failed; the cached states are left to the appends' guards");
                await Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken);
            }
            finally
            {
                following = false;
            }
        }
    }

    private async Task FollowAsync(long position, CancellationToken ct)
    {
        while (clock.GetElapsedTime(Interlocked.Read(ref lastSeen)) < Quiet)
        {
            // The folds need no metadata, and rendering it is as costly as the data.
            var events = await store.ReadAllWithoutMetadataAsync(position, Page, ct);
            foreach (var e in events)
                if (TakeIn(e)) Interlocked.Increment(ref followed);
            if (events.Count > 0) position = events[^1].Position;
            if (events.Count < Page) await Task.Delay(PollInterval, clock, ct);
        }
    }

    private bool TakeIn(RecordedEvent e)
    {
        try
        {
            foreach (var takeIn in folds)
                if (takeIn(e)) return true;
        }
        catch (Exception error)
        {
            // An event this release cannot read (a newer server's): its stream's fold stays behind, for the guard to catch.
            log.LogDebug(error, "Event {Position} ({Type}) of another process not taken into the cached states", e.Position, e.EventType);
        }
        return false;
    }
}
