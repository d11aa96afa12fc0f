using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Domain.Tests.Payments;

public sealed partial class TransferSpecs
{
    [Fact]
    public void GivenPlacedOrderAndCustomerWith100_WhenPayOrder_ThenPaidCompletedDebitedAndCreditedAtOnce() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee), order: Placed()).When(new TransferCommand.PayOrder(OrderId)).Then());

    [Fact]
    public void GivenCustomerWithTooLittle_WhenPayOrder_ThenPaymentFailedAndOrderCancelledWithInsufficientFunds() =>
        Snapshot.Match(Given(payer: With(Payer, 100), payee: Opened(Payee), order: Placed()).When(new TransferCommand.PayOrder(OrderId)).Then());

    [Fact]
    public void GivenClosedMerchant_WhenPayOrder_ThenNoMoneyMoves_AndTheOrderIsCancelledWithAccountClosed() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Closed(Payee), order: Placed()).When(new TransferCommand.PayOrder(OrderId)).Then());

    [Fact]
    public void GivenNoCustomerAccount_WhenPayOrder_ThenTheOrderIsCancelledWithAccountNotFound() =>
        Snapshot.Match(Given(payee: Opened(Payee), order: Placed()).When(new TransferCommand.PayOrder(OrderId)).Then());

    [Fact]
    public void GivenOrderCancelledByTheCustomer_WhenPayOrder_ThenNothingHappens() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee),
            order: [.. Placed(), new OrderEvent.OrderCancelled(OrderId, "changed my mind")]).When(new TransferCommand.PayOrder(OrderId)).Then());

    [Fact]
    public void GivenOrderAlreadyPaid_WhenPayOrderAgain_ThenNothingHappens() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee),
            order: [.. Placed(), new OrderEvent.OrderPaid(OrderId, PaymentId)]).When(new TransferCommand.PayOrder(OrderId)).Then());

    [Fact]
    public void GivenOrderWhosePaymentTheSagaStarted_WhenPayOrder_ThenNothingHappens_TheSagaCarriesItOn() =>
        Snapshot.Match(Given(payer: With(Payer, Hundred), payee: Opened(Payee), payment: OrderPaymentInitiatedBySaga, order: Placed())
            .When(new TransferCommand.PayOrder(OrderId)).Then());
}
