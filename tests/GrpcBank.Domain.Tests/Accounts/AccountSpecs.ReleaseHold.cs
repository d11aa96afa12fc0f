namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenHold40_WhenRelease_ThenHoldReleasedAndAll100Available() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(ReleaseHold()).Then());

    [Fact]
    public void GivenHoldReleased_WhenReleaseAgain_ThenHoldNotActive() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldReleased(4_000)).When(ReleaseHold()).Then());

    [Fact]
    public void GivenHoldExpired_WhenRelease_ThenHoldNotActive() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldExpired(4_000)).When(ReleaseHold()).Then());

    [Fact]
    public void GivenHoldCaptured_WhenRelease_ThenHoldNotActive() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldCaptured(2_500, 1_500)).When(ReleaseHold()).Then());

    [Fact]
    public void GivenNoSuchHold_WhenRelease_ThenHoldNotFound() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(ReleaseHold()).Then());

    [Fact]
    public void GivenHold40OnFrozenAccount_WhenRelease_ThenHoldReleased() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), Frozen).When(ReleaseHold()).Then());
}
