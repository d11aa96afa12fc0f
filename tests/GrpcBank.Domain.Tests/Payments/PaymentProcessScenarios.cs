using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Domain.Tests.Payments;

/// <summary>
/// The payment saga run end to end in memory: the executable specification of how the deciders and the
/// process fit together, without a store, a relay or a clock.
/// </summary>
public sealed class PaymentProcessScenarios
{
    private const string Customer = "acc-customer";
    private const string Merchant = "acc-merchant";
    private const string OrderId = "ord-0001";
    private const string PaymentId = "pay-0001";
    private static readonly string OrderPaymentId = Order.PaymentIdOf(OrderId);
    private const string Eur = "EUR";
    private const long Price = 2_500;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GivenCustomerWithFunds_WhenOrderPlaced_ThenOrderPaidAndMoneyMoved(int deliveries)
    {
        var world = WorldWith(customerBalanceMinor: 10_000, deliveries: deliveries);

        world.Run(PlaceOrder());

        Assert.Equal(OrderStatus.Paid, world.OrderOf(OrderId).Status);
        Assert.Equal(10_000 - Price, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(Price, world.AccountOf(Merchant).BalanceMinor);
        Assert.Equal(PaymentStatus.Completed, world.PaymentOf(OrderPaymentId).Status);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GivenCustomerWithoutFunds_WhenOrderPlaced_ThenOrderCancelledForInsufficientFunds(int deliveries)
    {
        var world = WorldWith(customerBalanceMinor: Price - 1, deliveries: deliveries);

        world.Run(PlaceOrder());

        Assert.Equal(OrderStatus.Cancelled, world.OrderOf(OrderId).Status);
        Assert.Equal(nameof(AccountRejection.InsufficientFunds), Assert.IsType<OrderEvent.OrderCancelled>(world.Stream(Order.StreamId(OrderId))[^1]).Reason);
        Assert.Equal(Price - 1, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(0, world.AccountOf(Merchant).BalanceMinor);
        Assert.Equal(PaymentStatus.Failed, world.PaymentOf(OrderPaymentId).Status);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GivenClosedMerchant_WhenOrderPlaced_ThenCustomerRefundedAndOrderCancelledForAccountClosed(int deliveries)
    {
        var world = WorldWith(customerBalanceMinor: 10_000, deliveries: deliveries);
        world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.CloseAccount(Merchant)));

        world.Run(PlaceOrder());

        var payment = world.PaymentOf(OrderPaymentId);
        Assert.Equal(PaymentStatus.Failed, payment.Status);
        Assert.Equal(nameof(AccountRejection.AccountClosed), payment.FailureReason);
        Assert.Equal(10_000, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(OrderStatus.Cancelled, world.OrderOf(OrderId).Status);
        Assert.Equal(nameof(AccountRejection.AccountClosed), Assert.IsType<OrderEvent.OrderCancelled>(world.Stream(Order.StreamId(OrderId))[^1]).Reason);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GivenCompletedTransfer_WhenRefundedTwice_ThenMoneyMovesBackOnceAndSecondIsNotRefundable(int deliveries)
    {
        var world = WorldWith(customerBalanceMinor: 10_000, deliveries: deliveries);
        world.Run(Transfer());
        Assert.Equal(PaymentStatus.Completed, world.PaymentOf(PaymentId).Status);

        var first = world.Run(RequestRefund());
        var second = world.Run(RequestRefund());

        Assert.True(first.IsRight);
        Assert.IsType<PaymentRejection.PaymentNotRefundable>(second.LeftToSeq().Single());
        Assert.Equal(PaymentStatus.Refunded, world.PaymentOf(PaymentId).Status);
        Assert.Equal(10_000, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(0, world.AccountOf(Merchant).BalanceMinor);
    }

    [Fact]
    public void GivenMerchantSpentThePayment_WhenRefundFailsAndIsAskedAgainAfterADeposit_ThenSecondAttemptMovesTheMoney()
    {
        var world = WorldWith(customerBalanceMinor: 10_000, deliveries: 2);
        world.Run(Transfer());
        world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.WithdrawMoney(Merchant, Price, Eur, "spent")));

        world.Run(RequestRefund());
        Assert.Equal(PaymentStatus.Completed, world.PaymentOf(PaymentId).Status);

        world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.DepositMoney(Merchant, Price, Eur, "topped up")));
        world.Run(RequestRefund());

        Assert.Equal(PaymentStatus.Refunded, world.PaymentOf(PaymentId).Status);
        Assert.Equal(2, world.PaymentOf(PaymentId).RefundAttempts);
        Assert.Equal(10_000, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(0, world.AccountOf(Merchant).BalanceMinor);
    }

    public static TheoryData<string> Outcomes => new() { "paid", "no funds", "merchant closed", "refunded" };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public void GivenAnyOutcome_WhenEveryEventIsDeliveredAgain_ThenNothingChanges(string outcome)
    {
        var world = WorldWith(customerBalanceMinor: outcome == "no funds" ? Price - 1 : 10_000, deliveries: 1);
        if (outcome == "merchant closed") world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.CloseAccount(Merchant)));
        world.Run(PlaceOrder());
        if (outcome == "refunded") world.Run(RequestRefund(OrderPaymentId));
        // A payment that failed must stay failed once the payer could afford it: its debit is settled.
        world.Run(new ProcessCommand.ToAccount(Customer, new AccountCommand.DepositMoney(Customer, 10_000, Eur, "salary")));
        var before = world.Snapshot();

        world.RedeliverEverything();

        Assert.Equal(before, world.Snapshot());
    }

    /// <summary>A customer with the given balance and an empty merchant account.</summary>
    private static World WorldWith(long customerBalanceMinor, int deliveries)
    {
        var world = new World(deliveries);
        world.OpenAccount(Customer, customerBalanceMinor);
        world.OpenAccount(Merchant, balanceMinor: 0);
        return world;
    }

    private static ProcessCommand PlaceOrder() => new ProcessCommand.ToOrder(OrderId,
        new OrderCommand.PlaceOrder(OrderId, Customer, Merchant, Price, Eur, "a teapot"));

    private static ProcessCommand Transfer() => new ProcessCommand.ToPayment(PaymentId,
        new PaymentCommand.InitiatePayment(PaymentId, Option<string>.None, Customer, Merchant, Price, Eur, "rent"));

    private static ProcessCommand RequestRefund(string paymentId = PaymentId) => new ProcessCommand.ToPayment(paymentId,
        new PaymentCommand.RequestRefund(paymentId, "damaged"));

    /// <summary>
    /// Streams as lists of events, a request log, and the process fed with every new event until nothing is left to do.
    /// Like the real request log, only a request that appended events is remembered; a step is skipped when its own
    /// request or the report of its rejection is remembered.
    /// </summary>
    private sealed class World(int deliveries)
    {
        private readonly Dictionary<string, List<object>> streams = [];
        private readonly System.Collections.Generic.HashSet<string> requestLog = [];

        public IReadOnlyList<object> Stream(string streamId) => streams.GetValueOrDefault(streamId) ?? [];

        public AccountState AccountOf(string id) => Account.Decider.Fold(Stream(Account.StreamId(id)).Cast<AccountEvent>());
        public OrderState OrderOf(string id) => Order.Decider.Fold(Stream(Order.StreamId(id)).Cast<OrderEvent>());
        public PaymentState PaymentOf(string id) => Payment.Decider.Fold(Stream(Payment.StreamId(id)).Cast<PaymentEvent>());

        public void OpenAccount(string id, long balanceMinor)
        {
            Run(new ProcessCommand.ToAccount(id, new AccountCommand.OpenAccount(id, id, Eur)));
            if (balanceMinor > 0) Run(new ProcessCommand.ToAccount(id, new AccountCommand.DepositMoney(id, balanceMinor, Eur, "opening")));
        }

        /// <summary>A client's command, then the process until it is quiescent.</summary>
        public Either<Rejection, Seq<object>> Run(ProcessCommand command)
        {
            var decision = Execute(command);
            decision.IfRight(events => Settle(events));
            return decision;
        }

        public void RedeliverEverything() => Settle(streams.Values.SelectMany(events => events).ToList());

        /// <summary>Every stream, written out so that two moments can be compared.</summary>
        public string Snapshot() => string.Join("\n", streams.OrderBy(s => s.Key, StringComparer.Ordinal).SelectMany(s => s.Value.Select(e => $"{s.Key}: {e}")));

        private void Settle(IEnumerable<object> events)
        {
            var pending = new Queue<object>(events);
            while (pending.TryDequeue(out var @event))
                for (var delivery = 0; delivery < deliveries; delivery++)
                    foreach (var step in PaymentProcess.React(@event))
                        foreach (var produced in Apply(step))
                            pending.Enqueue(produced);
        }

        private Seq<object> Apply(ProcessStep step)
        {
            if (requestLog.Contains(step.RequestId) || requestLog.Contains(step.RejectedRequestId)) return [];
            return Execute(step.Command, step.RequestId).Match(
                Right: events => events,
                Left: rejection => step.IfRejected is { } report
                    // The edge names rejections for clients; in here a rejection is named by its type.
                    ? Execute(report(rejection.GetType().Name), step.RejectedRequestId).IfLeft([])
                    : []);
        }

        private Either<Rejection, Seq<object>> Execute(ProcessCommand command, string? requestId = null) => command switch
        {
            ProcessCommand.ToAccount a => Execute(Account.Decider, Account.StreamId(a.AccountId), a.Command, requestId),
            ProcessCommand.ToOrder o => Execute(Order.Decider, Order.StreamId(o.OrderId), o.Command, requestId),
            ProcessCommand.ToPayment p => Execute(Payment.Decider, Payment.StreamId(p.PaymentId), p.Command, requestId),
            _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown process command"),
        };

        private Either<Rejection, Seq<object>> Execute<TCommand, TEvent, TState>(
            Decider<TCommand, TEvent, TState> decider, string streamId, TCommand command, string? requestId)
            where TEvent : notnull
        {
            var stream = streams.TryGetValue(streamId, out var existing) ? existing : streams[streamId] = [];
            return decider.Decide(command, decider.Fold(stream.Cast<TEvent>())).Map(events =>
            {
                var appended = events.Map(e => (object)e);
                stream.AddRange(appended);
                if (requestId is not null && !appended.IsEmpty) requestLog.Add(requestId);
                return appended;
            });
        }
    }
}
