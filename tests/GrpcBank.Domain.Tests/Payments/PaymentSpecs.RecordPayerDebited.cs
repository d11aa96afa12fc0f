namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    [Fact]
    public void GivenNoPayment_WhenRecordPayerDebited_ThenPaymentNotFound() =>
        Snapshot.Match(Given().When(RecordPayerDebited()).Then());

    [Fact]
    public void GivenInitiatedPayment_WhenRecordPayerDebited_ThenPayerDebited() =>
        Snapshot.Match(Given(Initiated).When(RecordPayerDebited()).Then());

    [Fact]
    public void GivenPayerDebitedPayment_WhenRecordPayerDebitedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(Initiated, PayerDebited).When(RecordPayerDebited()).Then());

    [Fact]
    public void GivenCompletedPayment_WhenRecordPayerDebitedAgain_ThenNoEvents() =>
        Snapshot.Match(Given(CompletedPayment).When(RecordPayerDebited()).Then());
}
