using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Commands;

/// <summary>What a command's append comes to, for the handlers that decide one command and append it once per try.</summary>
public static class AppendAnswer
{
    /// <summary>
    /// The command's answer once its append is committed (an append resting on an earlier unsettled one commits only if
    /// that one did) and the cache has taken the outcome in, so the caller's next command sees it; or, with no answer, the
    /// lost race (another writer got there first, or the unsettled append the decision rested on failed) to decide again on.
    /// </summary>
    /// <param name="settled">Follows the append's outcome and never faults: waiting for it alone resumes the caller once, not twice.</param>
    public static async Task<(CommandOutcome<TReply>? Answer, AppendResult.WrongExpectedVersion? Lost)> OfAsync<TReply>(
        Task settled, Task<AppendResult> appending, TReply reply, IEventStore store, CommandContext context, CancellationToken ct)
    {
        await settled;
        return await appending switch
        {
            AppendResult.Appended a => (new CommandOutcome<TReply>.Accepted(reply, a.Position), null),
            AppendResult.DuplicateRequest => (await RequestLog.ReplayAsync<TReply>(store, context, ct)
                ?? throw new InvalidOperationException("request log entry vanished after a duplicate-key conflict"), null),
            AppendResult.WrongExpectedVersion w => (null, w),
            var other => throw new InvalidOperationException($"unknown append result {other}"),
        };
    }
}
