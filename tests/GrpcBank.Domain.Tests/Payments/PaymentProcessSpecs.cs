using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Domain.Tests.Payments;

/// <summary>
/// The payment process as Given event / Then steps. A step is written out with its target stream, its command,
/// its request id and, where it has one, the report it makes (under its own request id) when its command is
/// rejected for INSUFFICIENT_FUNDS.
/// </summary>
public sealed class PaymentProcessSpecs
{
    private const string PaymentId = "pay-0001";
    private const string OrderId = "ord-0001";
    private const string Payer = "acc-customer";
    private const string Payee = "acc-merchant";
    private const string Eur = "EUR";
    private const long Amount = 2_500;

    private static readonly Movement Movement = new(PaymentId, OrderId, Amount, Eur);

    // ---- The events of one payment ----

    private static object OrderPlaced => new OrderEvent.OrderPlaced(OrderId, Payer, Payee, Amount, Eur, "a teapot", PaymentId);
    private static object PaymentInitiated => new PaymentEvent.PaymentInitiated(PaymentId, OrderId, Payer, Payee, Amount, Eur, $"order {OrderId}", Settlement.Saga);
    private static object PaymentDebited => new AccountEvent.PaymentDebited(Payer, Movement, Settlement.Saga);
    private static object PayerDebited => new PaymentEvent.PayerDebited(PaymentId, Payee, Movement);
    private static object PaymentCredited => new AccountEvent.PaymentCredited(Payee, Movement, Settlement.Saga);
    private static object PayeeCreditFailed => new PaymentEvent.PayeeCreditFailed(PaymentId, Payer, Movement, "ACCOUNT_CLOSED");
    private static object PaymentCompleted => new PaymentEvent.PaymentCompleted(PaymentId, OrderId, Settlement.Saga);
    private static object RefundRequested(int attempt) => new PaymentEvent.RefundRequested(PaymentId, Payee, Movement, "damaged", attempt, Settlement.Saga);
    private static object RefundDebited => new AccountEvent.RefundDebited(Payee, Movement, Settlement.Saga);
    private static object RefundPayeeDebited => new PaymentEvent.RefundPayeeDebited(PaymentId, Payer, Movement);
    private static object RefundCredited => new AccountEvent.RefundCredited(Payer, Movement, Settlement.Saga);

    // ---- Events the process reacts to ----

    [Fact]
    public void GivenOrderPlaced_ThenPayTheOrderInOneAtomicStep() =>
        Snapshot.Match(React(OrderPlaced));

    [Fact]
    public void GivenAnOrdersHoldExpired_ThenCancelTheOrder() =>
        Snapshot.Match(React(new AccountEvent.HoldExpired(Payer, OrderHoldIds.Of(OrderId), Amount, new DateTimeOffset(2026, 1, 22, 10, 0, 0, TimeSpan.Zero))));

    [Fact]
    public void GivenAPlainHoldExpired_ThenNoSteps() =>
        Assert.Empty(PaymentProcess.React(new AccountEvent.HoldExpired(Payer, "hold-0001", Amount, DateTimeOffset.UnixEpoch)));

    [Fact]
    public void GivenOrderAuthorized_ThenNoSteps_TheOrderIsPaidWhenItIsFulfilled() =>
        Assert.Empty(PaymentProcess.React(new OrderEvent.OrderAuthorized(OrderId, Payer, Payee, Amount, Eur, "a teapot", PaymentId,
            OrderHoldIds.Of(OrderId), DateTimeOffset.UnixEpoch)));

    [Fact]
    public void GivenPaymentInitiated_ThenDebitPayer() =>
        Snapshot.Match(React(PaymentInitiated));

    [Fact]
    public void GivenPaymentDebited_ThenRecordPayerDebited() =>
        Snapshot.Match(React(PaymentDebited));

    [Fact]
    public void GivenPayerDebited_ThenCreditPayee() =>
        Snapshot.Match(React(PayerDebited));

    [Fact]
    public void GivenPaymentCredited_ThenRecordPayeeCredited() =>
        Snapshot.Match(React(PaymentCredited));

    [Fact]
    public void GivenPayeeCreditFailed_ThenCompensatePayer() =>
        Snapshot.Match(React(PayeeCreditFailed));

    [Fact]
    public void GivenPaymentCompletedForOrder_ThenMarkOrderPaidOrElseRefund() =>
        Snapshot.Match(React(PaymentCompleted));

    [Fact]
    public void GivenPaymentFailedForOrder_ThenCancelOrderWithTheReason() =>
        Snapshot.Match(React(new PaymentEvent.PaymentFailed(PaymentId, OrderId, "INSUFFICIENT_FUNDS", Settlement.Saga)));

    [Fact]
    public void GivenRefundRequested_ThenDebitPayee() =>
        Snapshot.Match(React(RefundRequested(1)));

    [Fact]
    public void GivenSecondRefundRequested_ThenDebitPayeeUnderANewRequestId() =>
        Snapshot.Match(React(RefundRequested(2)));

    [Fact]
    public void GivenRefundDebited_ThenRecordRefundDebited() =>
        Snapshot.Match(React(RefundDebited));

    [Fact]
    public void GivenRefundPayeeDebited_ThenCreditPayer() =>
        Snapshot.Match(React(RefundPayeeDebited));

    [Fact]
    public void GivenRefundCredited_ThenRecordPayerRefunded() =>
        Snapshot.Match(React(RefundCredited));

    // ---- Events it ignores ----

    [Fact]
    public void GivenMoneyDeposited_ThenNoSteps() =>
        Snapshot.Match(React(new AccountEvent.MoneyDeposited(Payer, Amount, Eur, "ref-0001")));

    [Fact]
    public void GivenPaymentCompletedWithoutOrder_ThenNoSteps() =>
        Snapshot.Match(React(new PaymentEvent.PaymentCompleted(PaymentId, "", Settlement.Saga)));

    [Fact]
    public void GivenPaymentFailedWithoutOrder_ThenNoSteps() =>
        Snapshot.Match(React(new PaymentEvent.PaymentFailed(PaymentId, "", "INSUFFICIENT_FUNDS", Settlement.Saga)));

    public static TheoryData<object> IgnoredEvents => new()
    {
        new AccountEvent.AccountOpened(Payer, "Ada Lovelace", Eur),
        new AccountEvent.MoneyWithdrawn(Payer, Amount, Eur, "ref-0001"),
        new AccountEvent.AccountFrozen(Payer, "review"),
        new AccountEvent.AccountClosed(Payer),
        new OrderEvent.OrderPaid(OrderId, PaymentId),
        new OrderEvent.OrderCancelled(OrderId, "changed my mind"),
        new PaymentEvent.RefundFailed(PaymentId, "INSUFFICIENT_FUNDS"),
        new PaymentEvent.PaymentRefunded(PaymentId, OrderId),
    };

    [Theory]
    [MemberData(nameof(IgnoredEvents))]
    public void GivenAnEventOutsideThePayment_ThenNoSteps(object @event) =>
        Assert.Empty(PaymentProcess.React(@event));

    // What an atomic decision wrote is settled already: the process must not debit again, nor report a step.
    public static TheoryData<object> AtomicallySettledEvents => new()
    {
        new PaymentEvent.PaymentInitiated(PaymentId, OrderId, Payer, Payee, Amount, Eur, $"order {OrderId}", Settlement.Atomic),
        new AccountEvent.PaymentDebited(Payer, Movement, Settlement.Atomic),
        new AccountEvent.PaymentCredited(Payee, Movement, Settlement.Atomic),
        new PaymentEvent.PaymentCompleted(PaymentId, OrderId, Settlement.Atomic),
        new PaymentEvent.PaymentFailed(PaymentId, OrderId, "INSUFFICIENT_FUNDS", Settlement.Atomic),
        new PaymentEvent.RefundRequested(PaymentId, Payee, Movement, "damaged", 1, Settlement.Atomic),
        new AccountEvent.RefundDebited(Payee, Movement, Settlement.Atomic),
        new AccountEvent.RefundCredited(Payer, Movement, Settlement.Atomic),
    };

    [Theory]
    [MemberData(nameof(AtomicallySettledEvents))]
    public void GivenAnEventSettledAtomically_ThenNoSteps(object @event) =>
        Assert.Empty(PaymentProcess.React(@event));

    [Theory]
    [MemberData(nameof(AtomicallySettledEvents))]
    public void GivenTheSameEventSettledBySaga_ThenTheProcessDrivesIt(object @event) =>
        Assert.NotEmpty(PaymentProcess.React(BySaga(@event)));

    private static object BySaga(object e) => e switch
    {
        PaymentEvent.PaymentInitiated x => x with { Settlement = Settlement.Saga },
        AccountEvent.PaymentDebited x => x with { Settlement = Settlement.Saga },
        AccountEvent.PaymentCredited x => x with { Settlement = Settlement.Saga },
        PaymentEvent.PaymentCompleted x => x with { Settlement = Settlement.Saga },
        PaymentEvent.PaymentFailed x => x with { Settlement = Settlement.Saga },
        PaymentEvent.RefundRequested x => x with { Settlement = Settlement.Saga },
        AccountEvent.RefundDebited x => x with { Settlement = Settlement.Saga },
        AccountEvent.RefundCredited x => x with { Settlement = Settlement.Saga },
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "not a settled event"),
    };

    // ---- Request ids ----

    // Each life a payment can lead, as the events the process sees in order.
    public static TheoryData<string, object[]> Lives => new()
    {
        { "paid, then refunded on the second attempt", [
            OrderPlaced, PaymentInitiated, PaymentDebited, PayerDebited, PaymentCredited, PaymentCompleted,
            RefundRequested(1), new PaymentEvent.RefundFailed(PaymentId, "INSUFFICIENT_FUNDS"),
            RefundRequested(2), RefundDebited, RefundPayeeDebited, RefundCredited, new PaymentEvent.PaymentRefunded(PaymentId, OrderId),
        ] },
        { "payee could not receive, payer compensated", [
            OrderPlaced, PaymentInitiated, PaymentDebited, PayerDebited, PayeeCreditFailed, RefundCredited,
            new PaymentEvent.PaymentFailed(PaymentId, OrderId, "ACCOUNT_CLOSED", Settlement.Saga),
        ] },
        { "payer could not pay", [
            OrderPlaced, PaymentInitiated, new PaymentEvent.PaymentFailed(PaymentId, OrderId, "INSUFFICIENT_FUNDS", Settlement.Saga),
        ] },
    };

    [Theory]
    [MemberData(nameof(Lives))]
    public void GivenOneLifeOfAPayment_ThenEveryStepHasItsOwnProcessRequestId(string life, object[] events)
    {
        var requestIds = events.SelectMany(e => PaymentProcess.React(e)).SelectMany(RequestIdsOf).ToList();

        Assert.NotEmpty(requestIds);
        Assert.All(requestIds, id => Assert.StartsWith(PaymentProcess.RequestIdPrefix, id, StringComparison.Ordinal));
        Assert.True(requestIds.Count == requestIds.Distinct().Count(), $"{life}: {string.Join(", ", requestIds)}");
    }

    [Theory]
    [MemberData(nameof(Lives))]
    public void GivenTheSameEventTwice_ThenTheSameRequestIds(string life, object[] events)
    {
        foreach (var e in events)
        {
            var first = PaymentProcess.React(e).SelectMany(RequestIdsOf);
            var again = PaymentProcess.React(e).SelectMany(RequestIdsOf);
            Assert.True(first.SequenceEqual(again), $"{life}: {e}");
        }
    }

    private static IEnumerable<string> RequestIdsOf(ProcessStep step) =>
        step.IfRejected is null ? [step.RequestId] : [step.RequestId, step.RejectedRequestId];

    // ---- Writing a case out ----

    private static readonly Func<object, string> StorageName =
        StorageNames.From(AccountEventTypes.ByName, OrderEventTypes.ByName, PaymentEventTypes.ByName);

    private static ProcessCase React(object @event) =>
        new(new Described(StorageName(@event), @event), PaymentProcess.React(@event).Select(Describe).ToList());

    private static DescribedStep Describe(ProcessStep step) => new(
        Describe(step.Command),
        step.RequestId,
        step.IfRejected is { } report ? new DescribedStep(Describe(report("INSUFFICIENT_FUNDS")), step.RejectedRequestId, null) : null);

    private static DescribedCommand Describe(ProcessCommand command) => command switch
    {
        ProcessCommand.ToAccount a => new(Account.StreamId(a.AccountId), a.Command.GetType().Name, a.Command),
        ProcessCommand.ToOrder o => new(Order.StreamId(o.OrderId), o.Command.GetType().Name, o.Command),
        ProcessCommand.ToPayment p => new(Payment.StreamId(p.PaymentId), p.Command.GetType().Name, p.Command),
        ProcessCommand.ToTransfer t => new($"transfer {t.AggregateId}", t.Command.GetType().Name, t.Command),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "unknown process command"),
    };

    /// <summary>An event and the steps the process takes for it.</summary>
    private sealed record ProcessCase(Described When, IReadOnlyList<DescribedStep> Then);

    /// <summary>A step: its command, its request id, and the report it makes of an INSUFFICIENT_FUNDS rejection.</summary>
    private sealed record DescribedStep(DescribedCommand Command, string RequestId, DescribedStep? IfRejectedWithInsufficientFunds);

    /// <summary>A command, the stream it goes to, its name and its fields.</summary>
    private sealed record DescribedCommand(string Stream, string Type, object Data);
}
