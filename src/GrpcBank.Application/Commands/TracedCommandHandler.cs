using GrpcBank.Application.Payments;

namespace GrpcBank.Application.Commands;

/// <summary>
/// Telemetry around a command handler: one span per command naming it and its outcome, and the
/// <c>grpcbank.commands</c> counter (README, "Observability"). A rejection is counted with its public reason, so the
/// <c>reason</c> label has as many values as the protocol has reasons, never one per account or message.
/// </summary>
/// <param name="aggregate">The aggregate's name in telemetry, e.g. "account".</param>
/// <param name="reasonOf">The public reason of a rejection (PROTOCOL.md), the counter's <c>reason</c> label.</param>
public sealed class TracedCommandHandler<TCommand, TState>(ICommandHandler<TCommand, TState> inner, string aggregate, RejectionReason reasonOf)
    : ICommandHandler<TCommand, TState>
{
    public async Task<CommandOutcome<TReply>> HandleAsync<TReply>(
        string aggregateId, TCommand command, CommandContext context, ReplyWith<TState, TReply> reply, CancellationToken ct,
        long? expectedVersion = null)
    {
        var commandType = command?.GetType().Name ?? typeof(TCommand).Name;
        using var activity = Telemetry.StartSpan($"{aggregate} {commandType}");
        activity?.SetTag("grpcbank.aggregate", aggregate);
        activity?.SetTag("grpcbank.command", commandType);
        activity?.SetTag("grpcbank.aggregate_id", aggregateId);
        if (context.RequestId is { } requestId) activity?.SetTag("grpcbank.request_id", requestId);
        try
        {
            var outcome = await inner.HandleAsync(aggregateId, command, context, reply, ct, expectedVersion);
            var name = CommandOutcomes.NameOf(outcome);
            var rejection = outcome is CommandOutcome<TReply>.Rejected r ? r.Rejection.GetType().Name : null;
            activity?.SetTag("grpcbank.outcome", name);
            if (rejection is not null) activity?.SetTag("grpcbank.rejection", rejection);
            if (outcome is CommandOutcome<TReply>.Accepted { Replayed: true }) activity?.SetTag("grpcbank.replayed", true);
            Count(commandType, name, outcome is CommandOutcome<TReply>.Rejected rejected ? reasonOf(rejected.Rejection) : null);
            return outcome;
        }
        catch (Exception e)
        {
            activity.Failed(e);
            Count(commandType, "error");
            throw;
        }
    }

    private void Count(string commandType, string outcome, string? reason = null) => Telemetry.CountCommand(aggregate, commandType, outcome, reason);
}

/// <summary>How telemetry names a command's outcome: one home for the single handlers and the batches.</summary>
public static class CommandOutcomes
{
    /// <summary>The <c>outcome</c> label of <c>grpcbank.commands</c> and the span's <c>grpcbank.outcome</c>.</summary>
    public static string NameOf<TReply>(CommandOutcome<TReply> outcome) => outcome switch
    {
        CommandOutcome<TReply>.Accepted => "accepted",
        CommandOutcome<TReply>.Rejected => "rejected",
        CommandOutcome<TReply>.WrongExpectedVersion => "conflict",
        CommandOutcome<TReply>.RequestIdReused => "request_id_reused",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };
}
