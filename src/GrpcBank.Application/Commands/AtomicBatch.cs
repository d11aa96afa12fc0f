using GrpcBank.Application.EventStore;
using GrpcBank.Application.Payments;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Application.Commands;

public abstract record AtomicBatchOutcome
{
    private AtomicBatchOutcome() { }

    /// <summary>
    /// Every command was written in one commit, at the one position, or had been (a retried batch): each at the position its
    /// request log entry names, which differ when the commands were first done one by one, so each answers as it first did.
    /// </summary>
    /// <param name="Positions">Per command, the position of the append that wrote it.</param>
    public sealed record Accepted(IReadOnlyList<object> Replies, IReadOnlyList<long> Positions, bool Replayed = false) : AtomicBatchOutcome;

    /// <summary>The command at <paramref name="Index"/> failed, so nothing was written.</summary>
    public sealed record Failed(int Index, CommandOutcome<object> Outcome) : AtomicBatchOutcome;
}

/// <summary>
/// An atomic batch: deposits, withdrawals and transfers decided in order, each on the states the ones before it leave,
/// and written in one append (one commit) with a guard per stream and a request-log row per command; or, if any one is
/// refused, nothing at all. Like the single handlers it decides on cached folds (every stream it touches is written, so
/// every one is guarded), re-decides on fresh reads before answering a refusal, and retries a lost race a bounded
/// number of times. Like them it holds its streams' locks while deciding and handing the append over, not while it
/// commits, so batches over the same accounts are decided while the one before commits instead of one after another.
/// A batch sent again with its request ids gets its first replies back.
/// </summary>
public sealed class AtomicBatch(
    IEventStore store,
    StreamStates<AccountEvent, AccountState> accounts,
    StreamStates<PaymentEvent, PaymentState> payments,
    TimeProvider clock,
    StreamLocks locks,
    RejectionReason reasonOf)
{
    public const int MaxAppends = 5;

    public async Task<AtomicBatchOutcome> RunAsync(IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        AtomicBatchOutcome outcome;
        try
        {
            outcome = await DecideAndWriteAsync(commands, ct);
        }
        catch (Exception)
        {
            // A fault fails every command of the batch (the call is answered UNAVAILABLE or INTERNAL), as it would each
            // single command, and each is counted so, as each is when the batch is written.
            foreach (var command in commands) command.Count("error");
            throw;
        }
        switch (outcome)
        {
            // Each command is counted as its single RPC would be: accepted, whether written now or answered from the
            // request log (a retried batch), as a retried single command is counted accepted again.
            case AtomicBatchOutcome.Accepted:
                foreach (var command in commands) command.Count("accepted");
                break;
            // The command that failed the batch is counted as its single RPC would be (a refusal with its public reason),
            // so a refused atomic batch shows in the rejections as a refused single command does; the commands it carried
            // with it were not refused themselves and are not counted.
            case AtomicBatchOutcome.Failed failed:
                commands[failed.Index].Count(failed.Outcome, reasonOf);
                break;
        }
        return outcome;
    }

    private async Task<AtomicBatchOutcome> DecideAndWriteAsync(IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        var streams = commands.SelectMany(BatchStates.StreamsOf).Distinct().ToList();
        var fresh = false;
        for (var appends = 1; ; appends++)
        {
            Written written;
            Task<AppendResult> appending;
            Task settled;
            // The locks cover the decision and the hand-over to the store, not the commit: the next batch (or command) on
            // any of these streams decides on the states this one leaves while it commits (StreamStates.RememberUnsettled).
            using (await locks.AcquireAsync(streams, ct))
            {
                var states = fresh ? await BatchStates.FreshAsync(commands, accounts, payments, ct) : BatchStates.Cached(commands, accounts, payments);
                var decided = Decide(commands, states);
                if (decided is Refusal && !fresh)
                {
                    // A refusal must not rest on the cache: decide again on what the store holds.
                    fresh = true;
                    states = await BatchStates.FreshAsync(commands, accounts, payments, ct);
                    decided = Decide(commands, states);
                }
                if (decided is Refusal refusal)
                    return await ReplayAsync(commands, ct) ?? new AtomicBatchOutcome.Failed(refusal.Index, new CommandOutcome<object>.Rejected(refusal.Rejection));

                written = (Written)decided;
                appending = store.AppendAsync(new AppendRequest(written.Appends, null, clock.GetUtcNow()) { MoreRequests = written.Requests }, ct);
                settled = states.RememberUnsettled(_ => appending);
            }
            // Answered only once committed (an append resting on an earlier unsettled one commits only if that one did) and
            // once the cache has taken the outcome in. Settling never faults.
            await settled;
            switch (await appending)
            {
                case AppendResult.Appended a:
                    return new AtomicBatchOutcome.Accepted(written.Replies, [.. written.Replies.Select(_ => a.Position)]);
                case AppendResult.DuplicateRequest:
                    return await ReplayAsync(commands, ct)
                        ?? throw new InvalidOperationException("request log entry vanished after a duplicate-key conflict");
                case AppendResult.WrongExpectedVersion w:
                    fresh = true;
                    if (appends < MaxAppends) continue;
                    // A batch done before loses its appends too (the store reports a stale guard before a logged id).
                    if (await ReplayAsync(commands, ct) is { } replayed) return replayed;
                    var index = commands.Select((c, i) => (c, i)).First(x => BatchStates.StreamsOf(x.c).Contains(w.StreamId)).i;
                    var now = await BatchStates.FreshAsync(commands, accounts, payments, ct);
                    return new AtomicBatchOutcome.Failed(index, new CommandOutcome<object>.WrongExpectedVersion(w.ExpectedVersion, now.VersionOf(w.StreamId)));
            }
        }
    }

    private abstract record Decision;

    private sealed record Refusal(int Index, Rejection Rejection) : Decision;

    private sealed record Written(IReadOnlyList<StreamAppend> Appends, IReadOnlyList<RequestLogEntry> Requests, IReadOnlyList<object> Replies) : Decision;

    /// <summary>Decides every command in order on <paramref name="states"/>, which it moves forward as it goes: one write per stream.</summary>
    private static Decision Decide(IReadOnlyList<BatchItem> commands, BatchStates states)
    {
        var events = new Dictionary<string, List<EventData>>(StringComparer.Ordinal);
        var requests = new List<RequestLogEntry>();
        var replies = new List<object>();
        for (var i = 0; i < commands.Count; i++)
        {
            var decision = states.Decide(commands[i]);
            if (decision.IsLeft) return new Refusal(i, decision.LeftToSeq().Head);
            var decided = decision.RightToSeq().Head;
            foreach (var (stream, written) in decided.Parts)
            {
                if (!events.TryGetValue(stream, out var list)) events[stream] = list = [];
                list.AddRange(written);
            }
            replies.Add(decided.Reply);
            if (RequestLog.EntryFor(commands[i].Context, decided.Reply) is { } entry) requests.Add(entry);
        }
        return new Written([.. events.Select(e => states.Append(e.Key, e.Value))], requests, replies);
    }

    /// <summary>
    /// The first replies of a batch sent again: when every command's request id is logged for the same request. Otherwise
    /// the first command whose id was used for another request is refused as a reused id, or, when every logged one is
    /// the same request (the rest of the batch is new), the first of those; null when none is logged.
    /// </summary>
    private async Task<AtomicBatchOutcome?> ReplayAsync(IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        // One lookup for all of them: one by one, a refused batch of 8,192 commands cost 8,192 round trips, its locks held.
        var logged = (await RequestLog.FindAllAsync(store, commands, ct)).ToList();
        var first = logged.FindIndex(l => l is not null);
        if (first < 0) return null;
        var same = logged.Select((l, i) => l is not null && RequestLog.IsSameRequest(l, commands[i].Context)).ToList();
        if (same.All(s => s))
            return new AtomicBatchOutcome.Accepted(
                [.. logged.Select((l, i) => RequestLog.ReplyOf(l!, commands[i]))], [.. logged.Select(l => l!.Position)], Replayed: true);
        var reused = Enumerable.Range(0, commands.Count).FirstOrDefault(i => logged[i] is not null && !same[i], -1);
        return reused >= 0
            ? new AtomicBatchOutcome.Failed(reused, new CommandOutcome<object>.RequestIdReused(commands[reused].Context.RequestId!))
            : new AtomicBatchOutcome.Failed(first, new CommandOutcome<object>.RequestIdReused(commands[first].Context.RequestId!, AlreadyDone: true));
    }
}
