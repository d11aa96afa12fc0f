using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain.Tests.Payments;

/// <summary>Given/When/Then specifications of the payment decider; one partial file per command.</summary>
public sealed partial class PaymentSpecs
{
    // Fixed values so that every snapshot is stable. 2500 is 25.00 EUR.
    private const string Id = "pay-0001";
    private const string OrderId = "ord-0001";
    private const string Payer = "acc-customer";
    private const string Payee = "acc-merchant";
    private const string Eur = "EUR";
    private const long Amount = 2_500;

    private static readonly Movement Movement = new(Id, OrderId, Amount, Eur);

    private static readonly Func<object, string> StorageName = StorageNames.From(PaymentEventTypes.ByName);

    private static DeciderSpec<PaymentCommand, PaymentEvent, PaymentState> Given(params PaymentEvent[] history) =>
        new(Payment.Decider, StorageName, history);

    // ---- History, one state after another ----

    private static PaymentEvent Initiated => new PaymentEvent.PaymentInitiated(Id, OrderId, Payer, Payee, Amount, Eur, $"order {OrderId}", Settlement.Saga);
    private static PaymentEvent PayerDebited => new PaymentEvent.PayerDebited(Id, Payee, Movement);
    private static PaymentEvent Completed => new PaymentEvent.PaymentCompleted(Id, OrderId, Settlement.Saga);
    private static PaymentEvent PayeeCreditFailed => new PaymentEvent.PayeeCreditFailed(Id, Payer, Movement, "ACCOUNT_CLOSED");
    private static PaymentEvent Failed(string reason) => new PaymentEvent.PaymentFailed(Id, OrderId, reason, Settlement.Saga);
    private static PaymentEvent RefundRequested(int attempt) => new PaymentEvent.RefundRequested(Id, Payee, Movement, "damaged", attempt, Settlement.Saga);
    private static PaymentEvent RefundPayeeDebited => new PaymentEvent.RefundPayeeDebited(Id, Payer, Movement);
    private static PaymentEvent RefundFailed => new PaymentEvent.RefundFailed(Id, "INSUFFICIENT_FUNDS");
    private static PaymentEvent Refunded => new PaymentEvent.PaymentRefunded(Id, OrderId);

    private static PaymentEvent[] CompletedPayment => [Initiated, PayerDebited, Completed];
    private static PaymentEvent[] CompensatingPayment => [Initiated, PayerDebited, PayeeCreditFailed];
    private static PaymentEvent[] RefundingPayment => [.. CompletedPayment, RefundRequested(1)];
    private static PaymentEvent[] RefundedPayment => [.. RefundingPayment, RefundPayeeDebited, Refunded];
    private static PaymentEvent[] RefundFailedPayment => [.. RefundingPayment, RefundFailed];

    // ---- Commands ----

    private static PaymentCommand Initiate(
        long amountMinor = Amount, string payee = Payee, string? orderId = OrderId, string paymentId = Id, string currency = Eur) =>
        new PaymentCommand.InitiatePayment(paymentId, Optional(orderId), Payer, payee, amountMinor, currency, $"order {OrderId}");
    private static PaymentCommand RequestRefund() => new PaymentCommand.RequestRefund(Id, "damaged");
    private static PaymentCommand RecordPayerDebited() => new PaymentCommand.RecordPayerDebited(Id);
    private static PaymentCommand RecordPayerDebitFailed() => new PaymentCommand.RecordPayerDebitFailed(Id, "INSUFFICIENT_FUNDS");
    private static PaymentCommand RecordPayeeCredited() => new PaymentCommand.RecordPayeeCredited(Id);
    private static PaymentCommand RecordPayeeCreditFailed() => new PaymentCommand.RecordPayeeCreditFailed(Id, "ACCOUNT_CLOSED");
    private static PaymentCommand RecordRefundDebited() => new PaymentCommand.RecordRefundDebited(Id);
    private static PaymentCommand RecordRefundDebitFailed() => new PaymentCommand.RecordRefundDebitFailed(Id, "INSUFFICIENT_FUNDS");
    private static PaymentCommand RecordPayerRefunded() => new PaymentCommand.RecordPayerRefunded(Id);
}
