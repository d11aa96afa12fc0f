using GrpcBank.Domain.Orders;

namespace GrpcBank.Domain.Tests.Orders;

/// <summary>Given/When/Then specifications of the order decider; one partial file per command.</summary>
public sealed partial class OrderSpecs
{
    // Fixed values so that every snapshot is stable. 2500 is 25.00 EUR.
    private const string Id = "ord-0001";
    private const string Customer = "acc-customer";
    private const string Merchant = "acc-merchant";
    private static readonly string PaymentId = Order.PaymentIdOf(Id);
    private const string Eur = "EUR";
    private const long Price = 2_500;

    private static readonly Func<object, string> StorageName = StorageNames.From(OrderEventTypes.ByName);

    private static DeciderSpec<OrderCommand, OrderEvent, OrderState> Given(params OrderEvent[] history) =>
        new(Order.Decider, StorageName, history);

    // ---- History ----

    private static OrderEvent Placed => new OrderEvent.OrderPlaced(Id, Customer, Merchant, Price, Eur, "a teapot", PaymentId);
    private static OrderEvent Paid => new OrderEvent.OrderPaid(Id, PaymentId);
    private static OrderEvent Cancelled => new OrderEvent.OrderCancelled(Id, "changed my mind");
    private static OrderEvent Declined =>
        new OrderEvent.OrderDeclined(Id, Customer, Merchant, Price, Eur, "a teapot", PaymentId, "INSUFFICIENT_FUNDS");

    // ---- Commands ----

    private static OrderCommand Place(long amountMinor = Price, string merchant = Merchant, string currency = Eur) =>
        new OrderCommand.PlaceOrder(Id, Customer, merchant, amountMinor, currency, "a teapot");
    private static OrderCommand Cancel() => new OrderCommand.CancelOrder(Id, "found it cheaper");
    private static OrderCommand MarkPaid() => new OrderCommand.MarkOrderPaid(Id, PaymentId);
    private static OrderCommand CancelForFailedPayment() =>
        new OrderCommand.CancelOrderForFailedPayment(Id, PaymentId, "INSUFFICIENT_FUNDS");
}
