using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Domain.Tests.Payments;

/// <summary>
/// Given/When/Then specifications of the atomic money decisions (<see cref="Transfer"/>), stream by stream: the history
/// of each stream in the boundary, the decision, and the events each stream gets (or the rejection, and nothing written).
/// One partial file per decision.
/// </summary>
public sealed partial class TransferSpecs
{
    // Fixed values so that every snapshot is stable. 10000 is 100.00 EUR.
    private const string PaymentId = "pay-0001";
    private const string OrderId = "ord-0001";
    private const string Payer = "acc-payer";
    private const string Payee = "acc-payee";
    private const string Eur = "EUR";
    private const string Usd = "USD";
    private const long Hundred = 10_000;

    private static readonly Func<object, string> StorageName =
        StorageNames.From(AccountEventTypes.ByName, OrderEventTypes.ByName, PaymentEventTypes.ByName);

    private static History Given(
        AccountEvent[]? payer = null, AccountEvent[]? payee = null, PaymentEvent[]? payment = null, OrderEvent[]? order = null) =>
        new(payer ?? [], payee ?? [], payment ?? [], order ?? []);

    // ---- Account histories ----

    private static AccountEvent[] Opened(string id, string currency = Eur) => [new AccountEvent.AccountOpened(id, $"Owner of {id}", currency)];
    private static AccountEvent[] With(string id, long balanceMinor) =>
        [.. Opened(id), new AccountEvent.MoneyDeposited(id, balanceMinor, Eur, "salary")];
    private static AccountEvent[] Frozen(string id, long balanceMinor) => [.. With(id, balanceMinor), new AccountEvent.AccountFrozen(id, "review")];
    private static AccountEvent[] Closed(string id) => [.. Opened(id), new AccountEvent.AccountClosed(id)];
    private static AccountEvent[] AtBalanceLimit(string id) => With(id, Money.MaxBalanceMinor);
    private static AccountEvent[] AfterTransfer(AccountEvent[] account, AccountEvent movement) => [.. account, movement];

    // ---- Payment and order histories: 40.00 EUR paid atomically, or by the saga that came before ----

    private const long Paid = 4_000;
    private static readonly Movement Movement = new(PaymentId, "", Paid, Eur);
    private static AccountEvent Debited(Settlement settlement) => new AccountEvent.PaymentDebited(Payer, Movement, settlement);
    private static AccountEvent Credited(Settlement settlement) => new AccountEvent.PaymentCredited(Payee, Movement, settlement);
    private static AccountEvent[] PayerAfterPaying(Settlement settlement) => AfterTransfer(With(Payer, Hundred), Debited(settlement));
    private static AccountEvent[] PayeeAfterBeingPaid(Settlement settlement, params AccountEvent[] since) =>
        [.. AfterTransfer(Opened(Payee), Credited(settlement)), .. since];

    private static PaymentEvent[] CompletedTransfer =>
    [
        new PaymentEvent.PaymentInitiated(PaymentId, "", Payer, Payee, Paid, Eur, "rent", Settlement.Atomic),
        new PaymentEvent.PaymentCompleted(PaymentId, "", Settlement.Atomic),
    ];
    private static PaymentEvent[] CompletedBySaga =>
    [
        new PaymentEvent.PaymentInitiated(PaymentId, "", Payer, Payee, Paid, Eur, "rent", Settlement.Saga),
        new PaymentEvent.PayerDebited(PaymentId, Payee, Movement),
        new PaymentEvent.PaymentCompleted(PaymentId, "", Settlement.Saga),
    ];
    private static PaymentEvent[] RefundingBySaga =>
        [.. CompletedBySaga, new PaymentEvent.RefundRequested(PaymentId, Payee, Movement, "damaged", 1, Settlement.Saga)];
    private static PaymentEvent[] RefundFailedBySaga => [.. RefundingBySaga, new PaymentEvent.RefundFailed(PaymentId, "INSUFFICIENT_FUNDS")];
    private static PaymentEvent[] RefundedTransfer =>
    [
        .. CompletedTransfer,
        new PaymentEvent.RefundRequested(PaymentId, Payee, Movement, "duplicate", 1, Settlement.Atomic),
        new PaymentEvent.PaymentRefunded(PaymentId, ""),
    ];
    private static PaymentEvent[] FailedBySaga =>
    [
        new PaymentEvent.PaymentInitiated(PaymentId, "", Payer, Payee, Paid, Eur, "rent", Settlement.Saga),
        new PaymentEvent.PaymentFailed(PaymentId, "", "INSUFFICIENT_FUNDS", Settlement.Saga),
    ];

    private static OrderEvent[] Placed(long amountMinor = 2_500) =>
        [new OrderEvent.OrderPlaced(OrderId, Payer, Payee, amountMinor, Eur, "a teapot", PaymentId)];
    private static PaymentEvent[] OrderPaymentInitiatedBySaga =>
        [new PaymentEvent.PaymentInitiated(PaymentId, OrderId, Payer, Payee, 2_500, Eur, $"order {OrderId}", Settlement.Saga)];

    // ---- Commands ----

    private static TransferCommand.TransferMoney TransferOf(long amountMinor, string currency = Eur, string to = Payee) =>
        new(PaymentId, Payer, to, amountMinor, currency, "rent");
    private static TransferCommand.RefundPayment RefundOf() => new(PaymentId, "duplicate");

    /// <summary>The history of every stream in the boundary.</summary>
    private sealed record History(AccountEvent[] Payer, AccountEvent[] Payee, PaymentEvent[] Payment, OrderEvent[] Order)
    {
        public Case When(TransferCommand.TransferMoney c) => new(this, c, (payment, payer, payee, _) => Transfer.Decide(c, payment, payer, payee));

        public Case When(TransferCommand.RefundPayment c) => new(this, c, (payment, payer, payee, _) => Transfer.Refund(c, payment, payer, payee));

        // Public reasons are named at the edge; here a refusal is recorded under its rejection's type name.
        public Case When(TransferCommand.PayOrder c) => new(this, c, (payment, payer, payee, order) =>
            Either<Rejection, TransferEvents>.Right(Transfer.PayOrder(order, payment, payer, payee, r => r.GetType().Name)));

        public Case When(OrderFundsCommand.PlaceOrder c) => new(this, c, (_, payer, payee, order) => OrderFunds.Place(c, order, payer, payee, r => r.GetType().Name));

        public Case When(OrderFundsCommand.FulfillOrder c) => new(this, c, (payment, payer, payee, order) => OrderFunds.Fulfil(c, order, payment, payer, payee));

        public Case When(OrderFundsCommand.CancelOrder c) => new(this, c, (_, payer, _, order) => OrderFunds.Cancel(c, order, payer));
    }

    private sealed record Case(
        History Given, object Command, Func<PaymentState, AccountState, AccountState, OrderState, Either<Rejection, TransferEvents>> Decide)
    {
        public TransferOutcome Then()
        {
            var decision = Decide(
                Payment.Decider.Fold(Given.Payment), Account.Decider.Fold(Given.Payer), Account.Decider.Fold(Given.Payee),
                Order.Decider.Fold(Given.Order));
            return new TransferOutcome(
                Streams(Given.Payment, Given.Payer, Given.Payee, Given.Order),
                new Described(Command.GetType().Name, Command),
                decision.Match<object>(
                    Right: e => new AcceptedPerStream(Streams(e.Payment, e.Payer, e.Payee, e.Order)),
                    Left: Rejected.Of));
        }

        // The streams that have events, by stream id; an event is named by its storage name.
        private static IReadOnlyDictionary<string, IReadOnlyList<Described>> Streams(
            IEnumerable<PaymentEvent> payment, IEnumerable<AccountEvent> payer, IEnumerable<AccountEvent> payee, IEnumerable<OrderEvent> order) =>
            new (string Stream, IEnumerable<object> Events)[]
                {
                    (Domain.Payments.Payment.StreamId(PaymentIdOf(payment)), payment), (Account.StreamId(Payer), payer),
                    (Account.StreamId(Payee), payee), (Domain.Orders.Order.StreamId(OrderId), order),
                }
                .Where(s => s.Events.Any())
                .ToDictionary(s => s.Stream, s => (IReadOnlyList<Described>)s.Events.Select(e => new Described(StorageName(e), e)).ToList());
    }

    /// <summary>The payment's id as its events name it (an order's payment is named after the order), else the fixed one.</summary>
    private static string PaymentIdOf(IEnumerable<PaymentEvent> events) =>
        events.FirstOrDefault() is { } first ? (string)first.GetType().GetProperty(nameof(PaymentState.PaymentId))!.GetValue(first)! : PaymentId;

    /// <summary>A whole case as data: each stream's history, the decision, each stream's new events or the rejection.</summary>
    private sealed record TransferOutcome(IReadOnlyDictionary<string, IReadOnlyList<Described>> Given, Described When, object Then);

    /// <summary>The decision was taken: the events appended to each stream, all at once (none at all: nothing to do).</summary>
    private sealed record AcceptedPerStream(IReadOnlyDictionary<string, IReadOnlyList<Described>> Events)
    {
        public string Outcome => "Accepted";
    }
}
