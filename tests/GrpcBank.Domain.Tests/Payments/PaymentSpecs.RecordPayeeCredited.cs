namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    [Fact]
    public void GivenPayerDebitedPayment_WhenRecordPayeeCredited_ThenPaymentCompleted() =>
        Snapshot.Match(Given(Initiated, PayerDebited).When(RecordPayeeCredited()).Then());

    [Fact]
    public void GivenCompletedPayment_WhenRecordPayeeCreditedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(CompletedPayment).When(RecordPayeeCredited()).Then());

    [Fact]
    public void GivenRefundedPayment_WhenRecordPayeeCreditedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(RefundedPayment).When(RecordPayeeCredited()).Then());
}
