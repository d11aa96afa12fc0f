using System.Diagnostics;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Payments;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.Logging.Abstractions;
using static LanguageExt.Prelude;

namespace GrpcBank.Application.Tests.Payments;

/// <summary>
/// The payment saga run end to end in memory: the real <see cref="PaymentProcessRunner"/> and command handlers on an
/// in-memory event store, fed every new event (once, or twice as a relay may) until nothing is left to do — the
/// executable specification of how the deciders, the process and its runner fit together, without a database or relay.
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
    public async Task GivenCustomerWithFunds_WhenOrderPlaced_ThenOrderPaidAndMoneyMoved(int deliveries)
    {
        var world = await WorldWith(customerBalanceMinor: 10_000, deliveries: deliveries);

        await world.Run(PlaceOrder());

        Assert.Equal(OrderStatus.Paid, world.OrderOf(OrderId).Status);
        Assert.Equal(10_000 - Price, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(Price, world.AccountOf(Merchant).BalanceMinor);
        Assert.Equal(PaymentStatus.Completed, world.PaymentOf(OrderPaymentId).Status);
    }

    [Fact]
    public async Task WithTracingOff_TheEventsOfTheStepsTheProcessTakes_CarryTheTraceOfTheRequestThatCausedThem()
    {
        var world = await WorldWith(customerBalanceMinor: 10_000, deliveries: 1);
        var before = world.EventsAfter(0)[^1].Position;
        // A client's request with nobody listening to the bank's traces: ASP.NET Core still starts an activity for it (in
        // the caller's trace when it sends a traceparent), so its command's events carry that trace. The relay then hands
        // them to the process outside any activity, as it does with tracing off.
        var request = new Activity("request").Start();
        await world.Submit(PlaceOrder());
        request.Stop();
        await world.Settle();

        // The debit, the credit and every other step's events: a consumer of the bus follows the request through them.
        var written = world.EventsAfter(before);
        Assert.True(written.Count > 2, $"{written.Count} events: the process took no step");
        Assert.All(written, e => Assert.Equal(request.TraceId, Telemetry.StoredTraceContext(e.MetadataJson)?.TraceId));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GivenCustomerWithoutFunds_WhenOrderPlaced_ThenOrderCancelledForInsufficientFunds(int deliveries)
    {
        var world = await WorldWith(customerBalanceMinor: Price - 1, deliveries: deliveries);

        await world.Run(PlaceOrder());

        Assert.Equal(OrderStatus.Cancelled, world.OrderOf(OrderId).Status);
        Assert.Equal(nameof(AccountRejection.InsufficientFunds), Assert.IsType<OrderEvent.OrderCancelled>(world.LastEventOf(Order.StreamId(OrderId))).Reason);
        Assert.Equal(Price - 1, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(0, world.AccountOf(Merchant).BalanceMinor);
        Assert.Equal(PaymentStatus.Failed, world.PaymentOf(OrderPaymentId).Status);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GivenClosedMerchant_WhenOrderPlaced_ThenCustomerRefundedAndOrderCancelledForAccountClosed(int deliveries)
    {
        var world = await WorldWith(customerBalanceMinor: 10_000, deliveries: deliveries);
        await world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.CloseAccount(Merchant)));

        await world.Run(PlaceOrder());

        var payment = world.PaymentOf(OrderPaymentId);
        Assert.Equal(PaymentStatus.Failed, payment.Status);
        Assert.Equal(nameof(AccountRejection.AccountClosed), payment.FailureReason);
        Assert.Equal(10_000, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(OrderStatus.Cancelled, world.OrderOf(OrderId).Status);
        Assert.Equal(nameof(AccountRejection.AccountClosed), Assert.IsType<OrderEvent.OrderCancelled>(world.LastEventOf(Order.StreamId(OrderId))).Reason);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GivenCompletedTransfer_WhenRefundedTwice_ThenMoneyMovesBackOnceAndSecondIsNotRefundable(int deliveries)
    {
        var world = await WorldWith(customerBalanceMinor: 10_000, deliveries: deliveries);
        await world.Run(Transfer());
        Assert.Equal(PaymentStatus.Completed, world.PaymentOf(PaymentId).Status);

        await world.Run(RequestRefund());
        var second = await world.RunRefused(RequestRefund());

        Assert.IsType<PaymentRejection.PaymentNotRefundable>(second);
        Assert.Equal(PaymentStatus.Refunded, world.PaymentOf(PaymentId).Status);
        Assert.Equal(10_000, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(0, world.AccountOf(Merchant).BalanceMinor);
    }

    [Fact]
    public async Task GivenMerchantSpentThePayment_WhenRefundFailsAndIsAskedAgainAfterADeposit_ThenSecondAttemptMovesTheMoney()
    {
        var world = await WorldWith(customerBalanceMinor: 10_000, deliveries: 2);
        await world.Run(Transfer());
        await world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.WithdrawMoney(Merchant, Price, Eur, "spent")));

        await world.Run(RequestRefund());
        Assert.Equal(PaymentStatus.Completed, world.PaymentOf(PaymentId).Status);

        await world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.DepositMoney(Merchant, Price, Eur, "topped up")));
        await world.Run(RequestRefund());

        Assert.Equal(PaymentStatus.Refunded, world.PaymentOf(PaymentId).Status);
        Assert.Equal(2, world.PaymentOf(PaymentId).RefundAttempts);
        Assert.Equal(10_000, world.AccountOf(Customer).BalanceMinor);
        Assert.Equal(0, world.AccountOf(Merchant).BalanceMinor);
    }

    public static TheoryData<string> Outcomes => new() { "paid", "no funds", "merchant closed", "refunded" };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public async Task GivenAnyOutcome_WhenEveryEventIsDeliveredAgain_ThenNothingChanges(string outcome)
    {
        var world = await WorldWith(customerBalanceMinor: outcome == "no funds" ? Price - 1 : 10_000, deliveries: 1);
        if (outcome == "merchant closed") await world.Run(new ProcessCommand.ToAccount(Merchant, new AccountCommand.CloseAccount(Merchant)));
        await world.Run(PlaceOrder());
        if (outcome == "refunded") await world.Run(RequestRefund(OrderPaymentId));
        // A payment that failed must stay failed once the payer could afford it: its debit is settled.
        await world.Run(new ProcessCommand.ToAccount(Customer, new AccountCommand.DepositMoney(Customer, 10_000, Eur, "salary")));
        // The outcome was reached: a redelivery that changes nothing proves little about a flow that never ran.
        Assert.Equal(outcome switch { "paid" => PaymentStatus.Completed, "refunded" => PaymentStatus.Refunded, _ => PaymentStatus.Failed },
            world.PaymentOf(OrderPaymentId).Status);
        var before = world.Snapshot();

        await world.RedeliverEverything();

        Assert.Equal(before, world.Snapshot());
    }

    /// <summary>A customer with the given balance and an empty merchant account.</summary>
    private static async Task<World> WorldWith(long customerBalanceMinor, int deliveries)
    {
        var world = new World(deliveries);
        await world.OpenAccount(Customer, customerBalanceMinor);
        await world.OpenAccount(Merchant, balanceMinor: 0);
        return world;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GivenAnAuthorizedOrder_WhenItsHoldExpires_ThenTheOrderIsCancelledOnce_AndRedeliveryChangesNothing(int deliveries)
    {
        var world = await WorldWith(customerBalanceMinor: 10_000, deliveries: deliveries);
        var placedAt = DateTimeOffset.UtcNow;
        await world.Run(new OrderFundsCommand.PlaceOrder(new OrderCommand.PlaceOrder(OrderId, Customer, Merchant, Price, Eur, "a teapot"),
            placedAt.AddMinutes(10), placedAt));

        await world.Run(new ProcessCommand.ToAccount(Customer,
            new AccountCommand.ExpireHold(Customer, OrderHoldIds.Of(OrderId), placedAt.AddMinutes(10))));
        var settled = world.Snapshot();
        await world.RedeliverEverything();

        Assert.Equal(Order.AuthorizationExpired, Assert.IsType<OrderEvent.OrderCancelled>(world.LastEventOf(Order.StreamId(OrderId))).Reason);
        Assert.Equal(OrderStatus.Cancelled, world.OrderOf(OrderId).Status);
        Assert.Equal((10_000L, 0L), (world.AccountOf(Customer).BalanceMinor, world.AccountOf(Customer).HeldMinor));
        Assert.Equal(settled, world.Snapshot());
    }

    private static ProcessCommand PlaceOrder() => new ProcessCommand.ToOrder(OrderId,
        new OrderCommand.PlaceOrder(OrderId, Customer, Merchant, Price, Eur, "a teapot"));

    private static ProcessCommand Transfer() => new ProcessCommand.ToPayment(PaymentId,
        new PaymentCommand.InitiatePayment(PaymentId, None, Customer, Merchant, Price, Eur, "rent"));

    private static ProcessCommand RequestRefund(string paymentId = PaymentId) => new ProcessCommand.ToPayment(paymentId,
        new PaymentCommand.RequestRefund(paymentId, "damaged"));

    /// <summary>The real handlers and process runner on an in-memory store; the relay is a loop over new positions.</summary>
    private sealed class World
    {
        private readonly InMemoryEventStore store = new();
        private readonly Handlers handlers;
        private readonly PaymentProcessRunner runner;
        private readonly int deliveries;
        private long delivered;

        public World(int deliveries)
        {
            this.deliveries = deliveries;
            // The wire reasons belong to the edge; here a rejection is named by its type.
            RejectionReason reasonOf = rejection => rejection.GetType().Name;
            handlers = new Handlers(store, TimeProvider.System, new StreamLocks(), reasonOf);
            runner = new PaymentProcessRunner(handlers, store, reasonOf, NullLogger<PaymentProcessRunner>.Instance);
        }

        public AccountState AccountOf(string id) => Account.Decider.Fold(Events(Account.StreamId(id)).Cast<AccountEvent>());
        public OrderState OrderOf(string id) => Order.Decider.Fold(Events(Order.StreamId(id)).Cast<OrderEvent>());
        public PaymentState PaymentOf(string id) => Payment.Decider.Fold(Events(Payment.StreamId(id)).Cast<PaymentEvent>());

        public object LastEventOf(string streamId) => Events(streamId)[^1];

        public async Task OpenAccount(string id, long balanceMinor)
        {
            await Run(new ProcessCommand.ToAccount(id, new AccountCommand.OpenAccount(id, id, Eur)));
            if (balanceMinor > 0) await Run(new ProcessCommand.ToAccount(id, new AccountCommand.DepositMoney(id, balanceMinor, Eur, "opening")));
        }

        /// <summary>A client's command, which must be accepted, then the process until it is quiescent.</summary>
        public async Task Run(ProcessCommand command)
        {
            await Submit(command);
            await Settle();
        }

        /// <summary>
        /// A client's command the scenario expects refused, then the process until it is quiescent: its rejection, or the
        /// test fails if it was accepted.
        /// </summary>
        public async Task<Rejection> RunRefused(ProcessCommand command)
        {
            var outcome = await handlers.HandleAsync(command, CommandContext.None, CancellationToken.None);
            await Settle();
            return outcome is CommandOutcome<StreamReply>.Rejected rejected
                ? rejected.Rejection
                : throw new Xunit.Sdk.XunitException($"{command} was expected to be refused, but the answer was {outcome}");
        }

        /// <summary>A client's command, which must be accepted, and no more: the process has not run on its events yet.</summary>
        public async Task Submit(ProcessCommand command) =>
            MustBeAccepted(command, await handlers.HandleAsync(command, CommandContext.None, CancellationToken.None));

        /// <summary>An order's money decision as a client's command, then the process until it is quiescent.</summary>
        public async Task Run(OrderFundsCommand command)
        {
            var orderId = command switch
            {
                OrderFundsCommand.PlaceOrder c => c.Order.OrderId,
                OrderFundsCommand.FulfillOrder c => c.OrderId,
                OrderFundsCommand.CancelOrder c => c.OrderId,
                _ => throw new ArgumentOutOfRangeException(nameof(command)),
            };
            MustBeAccepted(command,
                await handlers.OrderFunds.HandleAsync(orderId, command, CommandContext.None, StreamReply.For<OrderState>(orderId), CancellationToken.None));
            await Settle();
        }

        /// <summary>
        /// A scenario's step that was refused is a scenario that no longer tests what it says (a refund of the wrong
        /// payment went unnoticed this way): it fails the test, naming the command and its answer.
        /// </summary>
        private static void MustBeAccepted(object command, CommandOutcome<StreamReply> outcome)
        {
            if (outcome is not CommandOutcome<StreamReply>.Accepted)
                Assert.Fail($"{command} was refused: {outcome}");
        }

        /// <summary>Every event stored after <paramref name="position"/>.</summary>
        public IReadOnlyList<RecordedEvent> EventsAfter(long position) => store.ReadAllAsync(position, int.MaxValue, CancellationToken.None).Result;

        /// <summary>Hands the process every stored event again, as a relay does after a crash, then settles.</summary>
        public async Task RedeliverEverything()
        {
            await Deliver(await store.ReadAllAsync(0, int.MaxValue, CancellationToken.None));
            await Settle();
        }

        /// <summary>Every stream, written out so that two moments can be compared.</summary>
        public string Snapshot() => string.Join("\n", store.ReadAllAsync(0, int.MaxValue, CancellationToken.None).Result
            .OrderBy(e => e.StreamId, StringComparer.Ordinal).ThenBy(e => e.StreamVersion)
            .Select(e => $"{e.StreamId} {e.StreamVersion}: {e.EventType} {e.DataJson}"));

        /// <summary>Runs the process on every new event until it is quiescent.</summary>
        public async Task Settle()
        {
            while (await store.ReadAllAsync(delivered, int.MaxValue, CancellationToken.None) is { Count: > 0 } batch)
            {
                delivered = batch[^1].Position;
                await Deliver(batch);
            }
        }

        private async Task Deliver(IReadOnlyList<RecordedEvent> batch)
        {
            for (var delivery = 0; delivery < deliveries; delivery++)
                await runner.HandleAsync(batch, batch.Count > 0 ? batch[^1].Position : 0, CancellationToken.None);
        }

        private List<object> Events(string streamId) => store.Stream(streamId).Select(e => EventCodecs.Decode(e)!).ToList();
    }
}
