using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.Commands;

/// <summary>A command of a batch, with its own context (request id) and the reply it answers with.</summary>
public abstract record BatchItem(CommandContext Context, Type ReplyType)
{
    /// <summary>Counts the command in <c>grpcbank.commands</c> under <paramref name="outcome"/>, as its single handler would (<see cref="TracedCommandHandler{TCommand, TState}"/>).</summary>
    internal void Count(string outcome, string? reason = null)
    {
        var (aggregate, command) = this switch
        {
            ToAccount a => ("account", a.Command.GetType().Name),
            _ => ("payment", nameof(TransferCommand.TransferMoney)),
        };
        Telemetry.CountCommand(aggregate, command, outcome, reason);
    }

    /// <summary>Counts the command under the outcome it failed its batch with, a rejection with its public reason.</summary>
    internal void Count(CommandOutcome<object> outcome, Payments.RejectionReason reasonOf) =>
        Count(CommandOutcomes.NameOf(outcome), outcome is CommandOutcome<object>.Rejected r ? reasonOf(r.Rejection) : null);

    /// <summary>A deposit or a withdrawal.</summary>
    public sealed record ToAccount(string AccountId, AccountCommand Command, ReplyWith<AccountState, object> Reply, Type ReplyType, CommandContext Context)
        : BatchItem(Context, ReplyType);

    /// <summary>A transfer between two accounts (a new payment).</summary>
    public sealed record Transfer(TransferCommand.TransferMoney Command, ReplyWith<PaymentState, object> Reply, Type ReplyType, CommandContext Context)
        : BatchItem(Context, ReplyType);
}
