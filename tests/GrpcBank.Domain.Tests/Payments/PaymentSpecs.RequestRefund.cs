namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    [Fact]
    public void GivenCompletedPayment_WhenRequestRefund_ThenRefundRequestedAttempt1() =>
        Snapshot.Match(Given(CompletedPayment).When(RequestRefund()).Then());

    [Fact]
    public void GivenPaymentWhoseRefundFailed_WhenRequestRefund_ThenRefundRequestedAttempt2() =>
        Snapshot.Match(Given(RefundFailedPayment).When(RequestRefund()).Then());

    [Fact]
    public void GivenNoPayment_WhenRequestRefund_ThenPaymentNotFound() =>
        Snapshot.Match(Given().When(RequestRefund()).Then());

    [Fact]
    public void GivenInitiatedPayment_WhenRequestRefund_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(Initiated).When(RequestRefund()).Then());

    [Fact]
    public void GivenPayerDebitedPayment_WhenRequestRefund_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(Initiated, PayerDebited).When(RequestRefund()).Then());

    [Fact]
    public void GivenFailedPayment_WhenRequestRefund_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(Initiated, Failed("INSUFFICIENT_FUNDS")).When(RequestRefund()).Then());

    [Fact]
    public void GivenRefundingPayment_WhenRequestRefund_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(RefundingPayment).When(RequestRefund()).Then());

    [Fact]
    public void GivenRefundedPayment_WhenRequestRefund_ThenPaymentNotRefundable() =>
        Snapshot.Match(Given(RefundedPayment).When(RequestRefund()).Then());
}
