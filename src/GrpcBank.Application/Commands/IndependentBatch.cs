using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.Commands;

/// <summary>
/// The write of an independent batch: its commands decided in order, each on the states the ones before it leave, and
/// each written as an append of its own (its own guards, its own request-log row) in one group: one transaction, one
/// commit (<see cref="IEventStore.AppendGroupAsync"/>). A batch's commands on one account then chain inside that group
/// instead of waiting for one group commit each.
/// </summary>
/// <remarks>
/// This is the fast path only: it answers the commands it wrote, and leaves every other one unanswered for the caller to
/// run on its own (<see cref="CommandHandler{TCommand, TEvent, TState}"/>, <see cref="Payments.TransferHandler"/>), which
/// applies the rules a single command lives by: a refusal is decided again on a fresh read before it is given (this path
/// decides on cached folds), a lost guard is read and decided again, a logged request id gets its first reply. A command
/// resting on one of those (a later command of the batch on the same stream) loses its guard too, and is also run on
/// its own. Like the other handlers it holds its streams' locks while deciding and handing the group over, not while it
/// commits.
/// </remarks>
public sealed class IndependentBatch(
    IEventStore store,
    StreamStates<AccountEvent, AccountState> accounts,
    StreamStates<PaymentEvent, PaymentState> payments,
    TimeProvider clock,
    StreamLocks locks)
{
    /// <summary>
    /// Writes what it can of <paramref name="commands"/> in one group. Per command: its answer, or null when it was not
    /// written here and must be run on its own; when the database refuses the group as a whole, none is. A failure whose
    /// outcome is unknown (a lost connection) throws, for every command of the group, as it would for a single command.
    /// </summary>
    public async Task<IReadOnlyList<CommandOutcome<object>.Accepted?>> RunAsync(IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        var answers = new CommandOutcome<object>.Accepted?[commands.Count];
        var written = new List<(int Index, object Reply)>();
        var appends = new List<AppendRequest>();
        Task<IReadOnlyList<AppendResult>> writing;
        Task settled;
        using (await locks.AcquireAsync(commands.SelectMany(BatchStates.StreamsOf).Distinct(), ct))
        {
            var states = BatchStates.Cached(commands, accounts, payments);
            // The append holding each stream's last write: the one the state cached for that stream rests on.
            var lastWriteOf = new Dictionary<string, int>(StringComparer.Ordinal);
            var now = clock.GetUtcNow();
            for (var i = 0; i < commands.Count; i++)
            {
                var decision = states.Decide(commands[i]);
                if (decision.IsLeft) continue;
                var decided = decision.RightToSeq().Head;
                foreach (var (stream, _) in decided.Parts) lastWriteOf[stream] = appends.Count;
                appends.Add(new AppendRequest([.. decided.Parts.Select(p => states.Append(p.Stream, p.Events))],
                    RequestLog.EntryFor(commands[i].Context, decided.Reply), now));
                written.Add((i, decided.Reply));
            }
            if (appends.Count == 0) return answers;
            writing = store.AppendGroupAsync(appends, ct);
            settled = states.RememberUnsettled(stream => ResultAsync(writing, lastWriteOf[stream]));
        }
        // Answered only once committed and once the cache has taken the outcome in (settling never faults).
        await settled;
        IReadOnlyList<AppendResult> results;
        try
        {
            results = await writing;
        }
        catch (GroupRefusedException)
        {
            // Nothing was written, and the cause may be one command's alone: each is run on its own, so it stays its own.
            return answers;
        }
        catch (Exception)
        {
            // Its outcome unknown, the fault is each written command's answer, as it would be of a single command in a
            // failed group commit, and each is counted so (the single handlers count theirs; these never reach them).
            foreach (var (index, _) in written) commands[index].Count("error");
            throw;
        }
        for (var k = 0; k < written.Count; k++)
            if (results[k] is AppendResult.Appended a)
            {
                answers[written[k].Index] = new CommandOutcome<object>.Accepted(written[k].Reply, a.Position);
                commands[written[k].Index].Count("accepted");
            }
        return answers;
    }

    /// <summary>
    /// The answers the request log gives <paramref name="commands"/> (those a group did not write), all looked up at once:
    /// null for one whose request id is not logged. A command whose id is logged gets that whatever it would decide —
    /// its first reply, or REQUEST_ID_REUSED for another request — as its single RPC would. Left to the single-command
    /// path, each such command's append failed on the logged id, and with it every append chained behind it on its
    /// account: a batch retried whole after a lost reply resolved about one command per round trip (8,192 deposits to one
    /// account on PostgreSQL: half a minute). Each answer is counted as its single RPC's replay would be.
    /// </summary>
    public async Task<IReadOnlyList<CommandOutcome<object>?>> ReplayLoggedAsync(IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        var logged = await RequestLog.FindAllAsync(store, commands, ct);
        var answers = new CommandOutcome<object>?[commands.Count];
        for (var i = 0; i < commands.Count; i++)
            if (logged[i] is { } entry)
            {
                answers[i] = RequestLog.Replay(entry, commands[i]);
                commands[i].Count(CommandOutcomes.NameOf(answers[i]!));
            }
        return answers;
    }

    private static async Task<AppendResult> ResultAsync(Task<IReadOnlyList<AppendResult>> group, int index) => (await group.ConfigureAwait(false))[index];
}
