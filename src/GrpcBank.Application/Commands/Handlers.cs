using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.Application.Commands;

/// <summary>The command handlers of the three bounded contexts, sharing one store, clock and lock table, each traced.</summary>
public sealed class Handlers
{
    /// <param name="loggers">Where snapshot faults are logged (they never fail a command).</param>
    public Handlers(IEventStore store, TimeProvider clock, StreamLocks locks, ILoggerFactory? loggers = null)
    {
        var traced = new TracedEventStore(store);
        var log = (loggers ?? NullLoggerFactory.Instance).CreateLogger<Handlers>();
        Accounts = new TracedCommandHandler<AccountCommand, AccountState>(
            new CommandHandler<AccountCommand, AccountEvent, AccountState>(traced, Account.Decider, EventCodecs.Accounts, Account.StreamId, clock, locks, log),
            "account");
        Orders = new TracedCommandHandler<OrderCommand, OrderState>(
            new CommandHandler<OrderCommand, OrderEvent, OrderState>(traced, Order.Decider, EventCodecs.Orders, Order.StreamId, clock, locks, log),
            "order");
        Payments = new TracedCommandHandler<PaymentCommand, PaymentState>(
            new CommandHandler<PaymentCommand, PaymentEvent, PaymentState>(traced, Payment.Decider, EventCodecs.Payments, Payment.StreamId, clock, locks, log),
            "payment");
    }

    public ICommandHandler<AccountCommand, AccountState> Accounts { get; }

    public ICommandHandler<OrderCommand, OrderState> Orders { get; }

    public ICommandHandler<PaymentCommand, PaymentState> Payments { get; }

    /// <summary>Runs a command the payment process issued; its reply (logged for its derived request id) names the stream and version.</summary>
    public Task<CommandOutcome<StreamReply>> HandleAsync(ProcessCommand command, CommandContext context, CancellationToken ct) => command switch
    {
        ProcessCommand.ToAccount c => Accounts.HandleAsync(c.AccountId, c.Command, context, StreamReply.For<AccountState>(c.AccountId), ct),
        ProcessCommand.ToOrder c => Orders.HandleAsync(c.OrderId, c.Command, context, StreamReply.For<OrderState>(c.OrderId), ct),
        ProcessCommand.ToPayment c => Payments.HandleAsync(c.PaymentId, c.Command, context, StreamReply.For<PaymentState>(c.PaymentId), ct),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, null),
    };
}
