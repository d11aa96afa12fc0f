using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Application.Relay;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Server.Errors;
using DeadLetter = GrpcBank.Contracts.Admin.V1.DeadLetter;
using RebuildPhase = GrpcBank.Contracts.Admin.V1.RebuildPhase;

namespace GrpcBank.Server.Admin;

/// <summary>bank.admin.v1.ProjectionService: status of the relay's consumers, rebuilds and dead letters.</summary>
public sealed class ProjectionGrpcService(
    IEventStore store, IEnumerable<IEventSink> sinks, RelayProgress progress, ReadSideRebuild rebuild, TimeProvider clock,
    Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime)
    : ProjectionService.ProjectionServiceBase
{
    public override async Task<GetProjectionStatusResponse> GetProjectionStatus(GetProjectionStatusRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var head = await store.HeadPositionAsync(ct);
        var deadLetters = await DeadLettersByConsumerAsync(ct);

        var response = new GetProjectionStatusResponse();
        foreach (var sink in sinks)
        {
            // Each consumer has its own position: one that is down lags alone. Where this server's relay does not run,
            // the position is the bank's (the checkpoint another server's relay, or this one's before, recorded).
            var consumer = progress.For(sink.Name);
            var position = progress.IsActive ? consumer.Handled : Math.Max(consumer.Handled, await store.Outbox.CheckpointAsync(sink.Name, ct));
            // The age of the oldest event it has not handled yet: a stuck consumer shows a growing lag, not a frozen one.
            var oldestPending = position < head ? (await store.ReadAllAsync(position, 1, ct)).FirstOrDefault() : null;
            response.Projections.Add(new ProjectionStatus
            {
                Name = sink.Name,
                Position = position,
                HeadPosition = head,
                LagEvents = Math.Max(0, head - position),
                LagSeconds = oldestPending is null ? 0 : Math.Max(0, (clock.GetUtcNow() - oldestPending.RecordedAt).TotalSeconds),
                DeadLetters = deadLetters.GetValueOrDefault(sink.Name),
                State = rebuild.IsRunning && sink.Name == ReadStoreSink.SinkName ? ProjectionState.Rebuilding
                    : !progress.IsActive ? ProjectionState.Stopped
                    : consumer.LastError is not null ? ProjectionState.Failing
                    : ProjectionState.Running,
                LastPassAt = consumer.LastPassAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
                LastError = consumer.LastError ?? "",
            });
        }
        return response;
    }

    /// <summary>Every consumer's dead letters, counted a page at a time (it once counted the first thousand only).</summary>
    private async Task<Dictionary<string, long>> DeadLettersByConsumerAsync(CancellationToken ct)
    {
        const int Page = 1_000;
        var counts = new Dictionary<string, long>();
        for (var after = 0L; ;)
        {
            var items = (await store.DeadLetters.ListAsync(after, Page, ct)).Items;
            // A page runs in (position, consumer) order and the next starts past a position: a full page's last position,
            // whose letters (one per consumer) it may hold only in part, is counted with the next.
            var last = items.Count == Page ? items[^1].Event.Position : long.MaxValue;
            foreach (var d in items.Where(d => d.Event.Position < last)) counts[d.Consumer] = counts.GetValueOrDefault(d.Consumer) + 1;
            if (items.Count < Page) return counts;
            after = last - 1;
        }
    }

    public override async Task RebuildProjections(
        RebuildProjectionsRequest request, IServerStreamWriter<RebuildProjectionsResponse> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        // The switch takes over the serving read side's watermark with this server's relay paused. A relay elsewhere
        // cannot be paused from here: what it wrote to the old read side between the replay and the switch would be
        // missing from the new one for good.
        if (!progress.IsActive)
            throw ErrorMapper.Error(Google.Rpc.Code.FailedPrecondition, "RELAY_NOT_HERE",
                "this server does not run the relay (another server holds its lease, or Relay:Enabled is false); call RebuildProjections on the server whose GetProjectionStatus says RUNNING");
        // A report per page replayed (ReadStoreSink.ReplayPageFor: about a tenth of the way) plus one per phase: small
        // enough to queue whole for a slow reader.
        var reports = System.Threading.Channels.Channel.CreateUnbounded<RebuildProgress>();
        // The caller's cancellation or deadline abandons the rebuild (until its switch begins): the proto promises a
        // rebuild while the old read side serves, streamed to its caller, and no one is left to hear how it ends. So does
        // the server's stop: the host waits for the calls in flight, and a rebuild of a long history held the stop for
        // the whole shutdown timeout, then was cut off.
        using var served = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        var running = rebuild.TryStart(p => reports.Writer.TryWrite(p), served.Token)
            ?? throw ErrorMapper.Error(Google.Rpc.Code.FailedPrecondition, "REBUILD_RUNNING", "a rebuild is already running; watch GetProjectionStatus");
        _ = running.ContinueWith(_ => reports.Writer.Complete(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            await foreach (var p in reports.Reader.ReadAllAsync(CancellationToken.None))
                await responseStream.WriteAsync(Message(p), ct);
        }
        catch (Exception e) when (Hosting.EndedCalls.IsEndOf(e, context))
        {
            // The call has ended; the rebuild hears the same token and ends by itself. Waiting for it below lets its
            // cancellation answer the call as one.
        }
        try
        {
            await running;
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // Abandoned (its new generation dropped, the old one still serving): UNAVAILABLE, so the caller asks again,
            // of this server once it is back or of the one that holds the relay then.
            throw ErrorMapper.ServerStopping("the rebuild was abandoned, ask again");
        }
    }

    private static RebuildProjectionsResponse Message(RebuildProgress p) => new()
    {
        Phase = p.Phase switch
        {
            Application.ReadSide.RebuildPhase.Replaying => RebuildPhase.Replaying,
            Application.ReadSide.RebuildPhase.Switched => RebuildPhase.Switched,
            _ => RebuildPhase.Done,
        },
        ReplayedEvents = p.ReplayedEvents,
        TargetPosition = p.TargetPosition,
    };

    public override async Task<ListDeadLettersResponse> ListDeadLetters(ListDeadLettersRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors().NotNegative("after_position", request.AfterPosition);
        if (request.PageSize is < 0 or > 1_000) errors.Add("page_size", "must be between 1 and 1000 (0 means 100)");
        errors.ThrowIfAny();
        var pageSize = request.PageSize == 0 ? 100 : request.PageSize;
        var page = await store.DeadLetters.ListAsync(request.AfterPosition, pageSize, context.CancellationToken);
        var response = new ListDeadLettersResponse { TotalSize = page.TotalSize };
        response.DeadLetters.AddRange((await WithWholeLastPositionAsync(page.Items, pageSize, context.CancellationToken)).Select(d => new DeadLetter
        {
            Consumer = d.Consumer,
            Position = d.Event.Position,
            EventId = d.Event.EventId.ToString(),
            StreamId = d.Event.StreamId,
            EventType = d.Event.EventType,
            Error = d.Error,
            FailedAt = Timestamp.FromDateTimeOffset(d.FailedAt),
        }));
        return response;
    }

    /// <summary>
    /// A full page with every dead letter at its last position (one per consumer), so a page may hold a few more than
    /// asked. The next page starts after that position: a page that ended among one position's letters hid the rest of
    /// them from every page.
    /// </summary>
    private async Task<IReadOnlyList<Application.Relay.DeadLetter>> WithWholeLastPositionAsync(
        IReadOnlyList<Application.Relay.DeadLetter> items, int pageSize, CancellationToken ct)
    {
        if (items.Count < pageSize) return items;
        var last = items[^1].Event.Position;
        // At most one letter per consumer there: a few, but as many as consumers ever ran, so ask until fewer come back.
        for (var count = 8; ; count *= 2)
        {
            var atLast = (await store.DeadLetters.ListAsync(last - 1, count, ct)).Items.TakeWhile(d => d.Event.Position == last).ToList();
            if (atLast.Count < count) return [.. items.Where(d => d.Event.Position != last), .. atLast];
        }
    }

    public override async Task<RetryDeadLettersResponse> RetryDeadLetters(RetryDeadLettersRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        // An event's position is at least 1: anything else is a client's mistake, not a dead letter that happens to be gone.
        if (request.Positions.Any(p => p < 1)) new FieldErrors().Add("positions", "must be positions of events (1 or more)").ThrowIfAny();
        var wanted = request.Positions.ToHashSet();
        var all = (await store.DeadLetters.ListAsync(0, int.MaxValue, ct)).Items;
        var retried = 0;
        foreach (var deadLetter in all.Where(d => wanted.Count == 0 || wanted.Contains(d.Event.Position)))
        {
            var sink = sinks.FirstOrDefault(s => s.Name == deadLetter.Consumer);
            if (sink is null) continue;
            try
            {
                await sink.HandleAsync([deadLetter.Event], 0, ct);
            }
            catch (Exception e) when (PoisonEvents.IsPoison(e))
            {
                await store.DeadLetters.AddAsync(deadLetter.Consumer, deadLetter.Event, $"{e.GetType().Name}: {e.Message}", clock.GetUtcNow(), ct);
                continue;
            }
            await store.DeadLetters.RemoveAsync(deadLetter.Consumer, deadLetter.Event.Position, ct);
            retried++;
        }
        return new RetryDeadLettersResponse { Retried = retried, Remaining = (int)(await store.DeadLetters.ListAsync(0, 1, ct)).TotalSize };
    }
}
