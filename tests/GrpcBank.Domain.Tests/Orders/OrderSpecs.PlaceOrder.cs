namespace GrpcBank.Domain.Tests.Orders;

public sealed partial class OrderSpecs
{
    [Fact]
    public void GivenNoOrder_WhenPlace_ThenOrderPlaced() =>
        Snapshot.Match(Given().When(Place()).Then());

    [Fact]
    public void GivenNoOrder_WhenPlaceWithCustomerAsMerchant_ThenSameAccount() =>
        Snapshot.Match(Given().When(Place(merchant: Customer)).Then());

    [Fact]
    public void GivenNoOrder_WhenPlaceForZero_ThenInvalidAmount() =>
        Snapshot.Match(Given().When(Place(0)).Then());

    [Fact]
    public void GivenNoOrder_WhenPlaceForNegative_ThenInvalidAmount() =>
        Snapshot.Match(Given().When(Place(-Price)).Then());

    [Fact]
    public void GivenNoOrder_WhenPlaceAboveMaxAmount_ThenInvalidAmount() =>
        Snapshot.Match(Given().When(Place(Money.MaxAmountMinor + 1)).Then());

    [Fact]
    public void GivenPlacedOrder_WhenPlace_ThenOrderAlreadyExists() =>
        Snapshot.Match(Given(Placed).When(Place()).Then());

    [Fact]
    public void GivenPaidOrder_WhenPlace_ThenOrderAlreadyExists() =>
        Snapshot.Match(Given(Placed, Paid).When(Place()).Then());

    [Fact]
    public void GivenCancelledOrder_WhenPlace_ThenOrderAlreadyExists() =>
        Snapshot.Match(Given(Placed, Cancelled).When(Place()).Then());

    [Fact]
    public void GivenNoOrder_WhenPlaceWithoutCurrency_ThenUnknownCurrency() =>
        Snapshot.Match(Given().When(Place(currency: "")).Then());
}
