using GrpcBank.Application.EventStore;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Zero-downtime rebuild of the read side: a new generation is filled from the event store while the current one
/// serves; with the relay paused for a moment it catches up past everything the current one was given, takes over
/// its watermark, and becomes current. Side effects (the payment process) never re-fire: only views are rebuilt.
/// </summary>
public sealed class ReadSideRebuild(
    IEventStore store, SwitchableReadStore readStore, IReadStoreGenerations generations, ReadStoreSink sink,
    ILogger<ReadSideRebuild> logger)
{
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim oneAtATime = new(1, 1);

    public bool IsRunning => oneAtATime.CurrentCount == 0;

    public async Task RunAsync(Action<RebuildProgress> report, CancellationToken ct)
    {
        if (!await oneAtATime.WaitAsync(0, ct)) throw new InvalidOperationException("a rebuild is already running");
        try
        {
            var target = await store.HeadPositionAsync(ct);
            var next = await generations.CreateNextAsync(ct);
            var replayed = await sink.ReplayAsync(next, 0, n => report(new RebuildProgress(RebuildPhase.Replaying, n, target)), ct);
            // Outside the pause: indexes and syncing may take a moment, and the relay keeps serving meanwhile.
            await generations.FinishLoadAsync(next, ct);

            var total = await sink.PausedAsync(async () =>
            {
                // Everything the serving generation was given must be in the new one before it takes over; what it
                // was not given yet is still in the outbox and reaches the new one after the switch. (Positions given
                // before this process started are long settled, so the replay above already has them.)
                var current = readStore.Current;
                var given = sink.MaxDeliveredPosition;
                var until = DateTime.UtcNow + CatchUpLimit;
                var (count, last) = replayed;
                while (last < given)
                {
                    var more = await sink.ReplayAsync(next, last, _ => { }, ct);
                    (count, last) = (count + more.Count, Math.Max(last, more.LastPosition));
                    if (more.Count == 0)
                    {
                        if (DateTime.UtcNow > until)
                            throw new TimeoutException("the new read side could not catch up (a long transaction holds the event store back); the current one keeps serving");
                        await Task.Delay(20, ct);
                    }
                }
                await next.ApplyAsync([], await current.AppliedPositionAsync(ct), ct);
                await generations.SwitchAsync(current, next, ct);
                readStore.SwitchTo(next);
                return count;
            }, ct);
            report(new RebuildProgress(RebuildPhase.Switched, total, target));
            logger.LogInformation("Read side rebuilt from {Count} events and switched", total);
            report(new RebuildProgress(RebuildPhase.Done, total, target));
        }
        finally
        {
            oneAtATime.Release();
        }
    }
}

public enum RebuildPhase { Replaying, Switched, Done }

public sealed record RebuildProgress(RebuildPhase Phase, long ReplayedEvents, long TargetPosition);
