namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenHold40_WhenExpireAtItsExpiry_ThenHoldExpired() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(ExpireHold(Expiry)).Then());

    [Fact]
    public void GivenHold40_WhenExpireOneTickEarly_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(ExpireHold(Expiry.AddTicks(-1))).Then());

    [Fact]
    public void GivenHoldExpired_WhenExpireAgain_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldExpired(4_000)).When(ExpireHold(Expiry.AddHours(1))).Then());

    [Fact]
    public void GivenHoldCaptured_WhenExpire_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldCaptured(4_000, 0)).When(ExpireHold(Expiry)).Then());

    [Fact]
    public void GivenNoSuchHold_WhenExpire_ThenHoldNotFound() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(ExpireHold(Expiry)).Then());
}
