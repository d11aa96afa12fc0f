using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.Commands;

/// <summary>The command handlers of the three bounded contexts, sharing one store, clock and lock table.</summary>
public sealed class Handlers(IEventStore store, TimeProvider clock, StreamLocks locks)
{
    public CommandHandler<AccountCommand, AccountEvent, AccountState> Accounts { get; } =
        new(store, Account.Decider, EventCodecs.Accounts, Account.StreamId, s => s.BalanceMinor, clock, locks);

    public CommandHandler<OrderCommand, OrderEvent, OrderState> Orders { get; } =
        new(store, Order.Decider, EventCodecs.Orders, Order.StreamId, _ => null, clock, locks);

    public CommandHandler<PaymentCommand, PaymentEvent, PaymentState> Payments { get; } =
        new(store, Payment.Decider, EventCodecs.Payments, Payment.StreamId, _ => null, clock, locks);

    /// <summary>Runs a command the payment process issued.</summary>
    public Task<CommandOutcome> HandleAsync(ProcessCommand command, CommandContext context, CancellationToken ct) => command switch
    {
        ProcessCommand.ToAccount c => Accounts.HandleAsync(c.AccountId, c.Command, context, ct),
        ProcessCommand.ToOrder c => Orders.HandleAsync(c.OrderId, c.Command, context, ct),
        ProcessCommand.ToPayment c => Payments.HandleAsync(c.PaymentId, c.Command, context, ct),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, null),
    };
}
