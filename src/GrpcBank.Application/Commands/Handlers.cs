using GrpcBank.Application.EventStore;
using GrpcBank.Application.Payments;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.Application.Commands;

/// <summary>
/// The command handlers of the three bounded contexts and of atomic transfers across them, sharing one store, clock,
/// lock table and one set of folds per aggregate type, each traced.
/// </summary>
public sealed class Handlers
{
    /// <param name="reasonOf">The public reason of a rejection, recorded when an order's payment is refused.</param>
    /// <param name="loggers">Where snapshot faults are logged (they never fail a command).</param>
    public Handlers(IEventStore store, TimeProvider clock, StreamLocks locks, RejectionReason reasonOf, ILoggerFactory? loggers = null)
    {
        var traced = new TracedEventStore(store);
        loggers ??= NullLoggerFactory.Instance;
        var log = loggers.CreateLogger<Handlers>();
        OtherWriters = new OtherWriters(store, clock, loggers.CreateLogger<OtherWriters>());
        var accounts = new StreamStates<AccountEvent, AccountState>(
            traced, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts, log, otherWriters: OtherWriters);
        var orders = new StreamStates<OrderEvent, OrderState>(traced, Order.Decider.Initial, Order.Evolve, EventCodecs.Orders, log, otherWriters: OtherWriters);
        var payments = new StreamStates<PaymentEvent, PaymentState>(
            traced, Payment.Decider.Initial, Payment.Evolve, EventCodecs.Payments, log, otherWriters: OtherWriters);
        OtherWriters.Keep(accounts.Follow, orders.Follow, payments.Follow);
        Accounts = new TracedCommandHandler<AccountCommand, AccountState>(
            new CommandHandler<AccountCommand, AccountEvent, AccountState>(traced, Account.Decider, accounts, EventCodecs.Accounts, Account.StreamId, clock, locks),
            "account", reasonOf);
        Orders = new TracedCommandHandler<OrderCommand, OrderState>(
            new CommandHandler<OrderCommand, OrderEvent, OrderState>(traced, Order.Decider, orders, EventCodecs.Orders, Order.StreamId, clock, locks),
            "order", reasonOf);
        Payments = new TracedCommandHandler<PaymentCommand, PaymentState>(
            new CommandHandler<PaymentCommand, PaymentEvent, PaymentState>(traced, Payment.Decider, payments, EventCodecs.Payments, Payment.StreamId, clock, locks),
            "payment", reasonOf);
        var transfers = new TransferHandler(traced, accounts, payments, orders, reasonOf, clock, locks);
        Transfers = new TracedCommandHandler<TransferCommand, PaymentState>(transfers, "payment", reasonOf);
        OrderFunds = new TracedCommandHandler<OrderFundsCommand, OrderState>(transfers, "order", reasonOf);
        AtomicBatch = new AtomicBatch(traced, accounts, payments, clock, locks, reasonOf);
        IndependentBatch = new IndependentBatch(traced, accounts, payments, clock, locks);
    }

    /// <summary>Keeps the folds of every handler here up with other servers' appends to the same store, once there are any (a hosted service).</summary>
    public OtherWriters OtherWriters { get; }

    /// <summary>Atomic batches of deposits, withdrawals and transfers: one decision over all of them, one append.</summary>
    public AtomicBatch AtomicBatch { get; }

    /// <summary>Independent batches of them: decided in order, an append each, written in one group.</summary>
    public IndependentBatch IndependentBatch { get; }

    public ICommandHandler<AccountCommand, AccountState> Accounts { get; }

    public ICommandHandler<OrderCommand, OrderState> Orders { get; }

    public ICommandHandler<PaymentCommand, PaymentState> Payments { get; }

    /// <summary>Transfers, refunds and an order's money step: one decision and one append over every stream they touch.</summary>
    public ICommandHandler<TransferCommand, PaymentState> Transfers { get; }

    /// <summary>An order's placement, fulfilment and cancellation with its hold: one decision and one append over the order and its accounts.</summary>
    public ICommandHandler<OrderFundsCommand, OrderState> OrderFunds { get; }

    /// <summary>Runs a command the payment process issued; its reply (logged for its derived request id) names the stream and version.</summary>
    public Task<CommandOutcome<StreamReply>> HandleAsync(ProcessCommand command, CommandContext context, CancellationToken ct) => command switch
    {
        ProcessCommand.ToAccount c => Accounts.HandleAsync(c.AccountId, c.Command, context, StreamReply.For<AccountState>(c.AccountId), ct),
        ProcessCommand.ToOrder c => Orders.HandleAsync(c.OrderId, c.Command, context, StreamReply.For<OrderState>(c.OrderId), ct),
        ProcessCommand.ToPayment c => Payments.HandleAsync(c.PaymentId, c.Command, context, StreamReply.For<PaymentState>(c.PaymentId), ct),
        ProcessCommand.ToTransfer c => Transfers.HandleAsync(c.AggregateId, c.Command, context, StreamReply.For<PaymentState>(c.AggregateId), ct),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, null),
    };
}
