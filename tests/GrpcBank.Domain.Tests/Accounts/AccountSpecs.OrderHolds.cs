using GrpcBank.Domain.Accounts;

namespace GrpcBank.Domain.Tests.Accounts;

/// <summary>An order's hold moves only with its order: the account's own hold commands refuse its id.</summary>
public sealed partial class AccountSpecs
{
    private static readonly string OrderHold = OrderHoldIds.Of("ord-0001");

    [Fact]
    public void GivenAccountWith100_WhenPlaceHoldUnderAnOrdersHoldId_ThenHoldIdReserved() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(4_000, OrderHold)).Then());

    [Fact]
    public void GivenAnOrdersHold_WhenCaptureIt_ThenHoldIdReserved() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000, OrderHold)).When(CaptureHold(0, OrderHold)).Then());

    [Fact]
    public void GivenAnOrdersHold_WhenReleaseIt_ThenHoldIdReserved() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000, OrderHold)).When(ReleaseHold(OrderHold)).Then());

    [Fact]
    public void GivenAnOrdersHoldDue_WhenTheBankExpiresIt_ThenHoldExpired() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000, OrderHold)).When(ExpireHold(Expiry, OrderHold)).Then());
}
