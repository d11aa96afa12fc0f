using GrpcBank.Domain.Orders;

namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class PaymentSpecs
{
    [Fact]
    public void GivenNoPayment_WhenInitiateForOrder_ThenPaymentInitiated() =>
        Snapshot.Match(Given().When(Initiate()).Then());

    [Fact]
    public void GivenNoPayment_WhenInitiateTransferWithoutOrder_ThenPaymentInitiated() =>
        Snapshot.Match(Given().When(Initiate(orderId: null)).Then());

    [Fact]
    public void GivenNoPayment_WhenInitiateForZero_ThenInvalidAmount() =>
        Snapshot.Match(Given().When(Initiate(0)).Then());

    [Fact]
    public void GivenNoPayment_WhenInitiateToPayer_ThenSameAccount() =>
        Snapshot.Match(Given().When(Initiate(payee: Payer)).Then());

    [Fact]
    public void GivenInitiatedPayment_WhenInitiate_ThenPaymentAlreadyExists() =>
        Snapshot.Match(Given(Initiated).When(Initiate()).Then());

    [Fact]
    public void GivenFailedPayment_WhenInitiate_ThenPaymentAlreadyExists() =>
        Snapshot.Match(Given(Initiated, Failed("INSUFFICIENT_FUNDS")).When(Initiate()).Then());

    [Fact]
    public void GivenNoPayment_WhenInitiateTransferUnderAnOrdersPaymentId_ThenPaymentIdReserved() =>
        Snapshot.Match(Given().When(Initiate(orderId: null, paymentId: Order.PaymentIdOf(OrderId))).Then());

    [Fact]
    public void GivenNoPayment_WhenInitiateInLowerCaseEur_ThenUnknownCurrency() =>
        Snapshot.Match(Given().When(Initiate(currency: "eur")).Then());
}
