using System.Diagnostics;
using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Zero-downtime rebuild of the read side: a new generation is filled from the event store while the current one
/// serves; with the relay paused for a moment it catches up past everything the current one was given, takes over
/// its watermark, and becomes current. Side effects (the payment process) never re-fire: only views are rebuilt.
/// A rebuild that fails or is cancelled before the switch drops its new generation; the current one keeps serving.
/// </summary>
public sealed class ReadSideRebuild(
    IEventStore store, SwitchableReadStore readStore, IReadStoreGenerations generations, ReadStoreSink sink,
    ILogger<ReadSideRebuild> logger)
{
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(30);
    /// <summary>How long dropping an abandoned generation may take: the next rebuild waits for it.</summary>
    private static readonly TimeSpan DropLimit = TimeSpan.FromSeconds(30);
    private int running;

    public bool IsRunning => Volatile.Read(ref running) == 1;

    /// <summary>
    /// Starts a rebuild unless one is running (then null, at once). The claim is taken before this returns, so of any
    /// number of callers at once exactly one starts: a check of <see cref="IsRunning"/> followed by a claim taken later
    /// let two callers pass the check. <paramref name="ct"/> abandons the rebuild until its switch begins.
    /// </summary>
    public Task? TryStart(Action<RebuildProgress> report, CancellationToken ct)
    {
        if (Interlocked.CompareExchange(ref running, 1, 0) != 0) return null;
        return Task.Run(async () =>
        {
            try
            {
                await RunAsync(report, ct);
            }
            finally
            {
                Volatile.Write(ref running, 0);
            }
        }, CancellationToken.None);
    }

    private async Task RunAsync(Action<RebuildProgress> report, CancellationToken ct)
    {
        var target = await store.HeadPositionAsync(ct);
        var next = await generations.CreateNextAsync(ct);
        var switching = false;
        try
        {
            var replayed = await sink.ReplayAsync(next, 0, n => report(new RebuildProgress(RebuildPhase.Replaying, n, target)), ct,
                ReadStoreSink.ReplayPageFor(target));
            // Outside the pause: indexes and syncing may take a moment, and the relay keeps serving meanwhile.
            await generations.FinishLoadAsync(next, ct);

            var total = await sink.PausedAsync(async () =>
            {
                // Everything the serving generation was given must be in the new one before it takes over; what it
                // was not given yet is still in the outbox and reaches the new one after the switch. (Positions given
                // before this process started are long settled, so the replay above already has them.)
                var current = readStore.Current;
                var given = sink.MaxDeliveredPosition;
                var catchingUp = Stopwatch.GetTimestamp(); // time that passes, whatever the wall clock does meanwhile
                var (count, last) = replayed;
                while (last < given)
                {
                    var more = await sink.ReplayAsync(next, last, _ => { }, ct);
                    (count, last) = (count + more.Count, Math.Max(last, more.LastPosition));
                    if (more.Count == 0)
                    {
                        if (Stopwatch.GetElapsedTime(catchingUp) > CatchUpLimit)
                            throw new TimeoutException("the new read side could not catch up (a long transaction holds the event store back); the current one keeps serving");
                        await Task.Delay(20, ct);
                    }
                }
                // Not a watermark beyond the store's head: it is of a history the store no longer holds (an older backup
                // of it restored), whose positions new events take. The relay's next batch gives the new one its own.
                var applied = await current.AppliedPositionAsync(ct);
                if (applied <= await store.HeadPositionAsync(ct)) await next.ApplyAsync([], applied, ct);
                // Once begun, the switch runs to its end whatever the caller does: cut short, it could leave the pointer
                // on the new generation while this server still used the old one, and the new one must then not be dropped.
                switching = true;
                await readStore.SwitchAsync(next, () => generations.SwitchAsync(current, next, CancellationToken.None));
                return count;
            }, ct);
            report(new RebuildProgress(RebuildPhase.Switched, total, target));
            logger.LogInformation("Read side rebuilt from {Count} events and switched", total);
            report(new RebuildProgress(RebuildPhase.Done, total, target));
        }
        catch (Exception e) when (!switching)
        {
            await AbandonAsync(next, e);
            throw;
        }
    }

    /// <summary>Drops a generation whose rebuild ended before its switch: nothing will ever read it.</summary>
    private async Task AbandonAsync(IReadStore next, Exception why)
    {
        // Not the rebuild's token: after a cancellation it has fired, and the generation must go all the same.
        using var limit = new CancellationTokenSource(DropLimit);
        try
        {
            await generations.DropAsync(next, limit.Token);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "The abandoned read-store generation of a rebuild could not be dropped; drop it by hand");
        }
        if (why is OperationCanceledException)
            logger.LogInformation("Rebuild cancelled before its switch; its new generation was dropped and the current one keeps serving");
    }
}

public enum RebuildPhase { Replaying, Switched, Done }

public sealed record RebuildProgress(RebuildPhase Phase, long ReplayedEvents, long TargetPosition);
