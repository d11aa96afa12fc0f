using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using LanguageExt;

namespace GrpcBank.Application.Commands;

/// <summary>
/// Runs one aggregate's commands: decide on the stream's fold, append with the expected version, and retry a bounded
/// number of times when another writer wins. A rejected or failed command writes nothing.
/// </summary>
/// <remarks>
/// The happy path costs one round trip: the decision is made on the cached fold and the append's expected-version
/// check catches any writer the cache missed. Only an answer that writes nothing (a rejection, a no-op, a wrong
/// expected version) is re-checked against a fresh read and against the request log, so it never rests on stale state
/// and a retried request gets its first reply. A retry that would write is stopped by the request log's unique key.
/// Commands on one stream queue behind a per-stream lock inside this process, held while deciding and handing the append
/// to the store, not while it commits: the next command decides on the state the unsettled append leaves and its append
/// is guarded by that append's last event (<see cref="StreamStates{TEvent, TState}.RememberUnsettled"/>). Other processes
/// meet at the store's version check.
/// </remarks>
/// <param name="states">The aggregate's folds, shared with the handler of atomic transfers (which writes these streams too).</param>
public sealed class CommandHandler<TCommand, TEvent, TState>(
    IEventStore store,
    Decider<TCommand, TEvent, TState> decider,
    StreamStates<TEvent, TState> states,
    EventCodec<TEvent> codec,
    Func<string, string> streamIdOf,
    TimeProvider clock,
    StreamLocks locks) : ICommandHandler<TCommand, TState>
    where TEvent : class
{
    /// <summary>Appends tried before a command that keeps losing to other writers is answered with a conflict (ABORTED).</summary>
    public const int MaxAppends = 5;

    public async Task<CommandOutcome<TReply>> HandleAsync<TReply>(
        string aggregateId, TCommand command, CommandContext context, ReplyWith<TState, TReply> reply, CancellationToken ct,
        long? expectedVersion = null)
    {
        var streamId = streamIdOf(aggregateId);
        AppendResult.WrongExpectedVersion? lost = null;
        for (var appends = 0; ; appends++)
        {
            Task<AppendResult> appending;
            Task settled;
            TReply answer;
            // The lock covers the decision and the hand-over to the store, not the commit (StreamStates.RememberUnsettled).
            using (await locks.AcquireAsync(streamId, ct))
            {
                // After a lost race, look again at what the store holds (an expected_version from the caller is re-checked).
                var (current, fresh) = lost is null ? await states.CachedAsync(streamId, ct) : (await states.FreshAsync(streamId, ct), true);
                // A request logged before loses its appends too (the store reports a stale guard before a logged id): a
                // retry gets its first reply, not the conflict.
                if (appends == MaxAppends)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.WrongExpectedVersion(expectedVersion ?? lost!.ExpectedVersion, current.Version);
                var (decision, events) = Decide(command, current, expectedVersion);
                if (events.IsEmpty && !fresh)
                {
                    // Nothing to write may be the cache's mistake: decide again on what the store holds.
                    current = await states.FreshAsync(streamId, ct);
                    fresh = true;
                    (decision, events) = Decide(command, current, expectedVersion);
                }
                if (events.IsEmpty)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct) ?? await UnwrittenAsync(decision, current, expectedVersion, reply, context, ct);

                var next = new Folded<TState>(events.Fold(current.State, decider.Evolve), current.Version + events.Count, 0);
                answer = reply(next.State, next.Version);
                var metadata = context.MetadataJson();
                var data = events.Map(e => codec.ToEventData(e, metadata)).ToList();
                appending = store.AppendAsync(
                    new AppendRequest([current.Then(streamId, data)], RequestLog.EntryFor(context, answer), clock.GetUtcNow()), ct);
                settled = states.RememberUnsettled(streamId, current, next, data[^1].EventId, appending);
            }
            var (outcome, lostRace) = await AppendAnswer.OfAsync(settled, appending, answer, store, context, ct);
            if (outcome is not null) return outcome;
            lost = lostRace;
        }
    }

    /// <summary>The decision, and the events to append: none when it is a rejection or the version is not the one expected.</summary>
    private (Either<Rejection, Seq<TEvent>> Decision, Seq<TEvent> Events) Decide(TCommand command, Folded<TState> current, long? expectedVersion)
    {
        var decision = decider.Decide(command, current.State);
        var versionMatches = expectedVersion is not { } wanted || wanted == current.Version;
        return (decision, versionMatches ? decision.Match(Right: events => events, Left: _ => Seq<TEvent>.Empty) : Seq<TEvent>.Empty);
    }

    /// <summary>The answer to a command that writes nothing, decided on a fresh state.</summary>
    private async Task<CommandOutcome<TReply>> UnwrittenAsync<TReply>(
        Either<Rejection, Seq<TEvent>> decision, Folded<TState> current, long? expectedVersion, ReplyWith<TState, TReply> reply,
        CommandContext context, CancellationToken ct)
    {
        if (expectedVersion is { } wanted && wanted != current.Version) return new CommandOutcome<TReply>.WrongExpectedVersion(wanted, current.Version);
        if (decision.IsLeft) return new CommandOutcome<TReply>.Rejected((Rejection)decision);
        return await RequestLog.AcceptUnwrittenAsync(store, context, reply(current.State, current.Version), current.Position, ct);
    }
}
