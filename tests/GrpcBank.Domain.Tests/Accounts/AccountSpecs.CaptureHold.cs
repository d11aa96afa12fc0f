namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenHold40_WhenCaptureAll_ThenHoldCapturedAndBalance60() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHold40_WhenCapture25_ThenHoldCapturedAndTheRest15Released() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(CaptureHold(2_500)).Then());

    [Fact]
    public void GivenHold40_WhenCapture40Point01_ThenCaptureExceedsHold() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(CaptureHold(4_001)).Then());

    [Fact]
    public void GivenHoldCaptured_WhenCaptureAgain_ThenHoldNotActive() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldCaptured(4_000, 0)).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHoldReleased_WhenCapture_ThenHoldNotActive() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldReleased(4_000)).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHoldExpired_WhenCapture_ThenHoldNotActive() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldExpired(4_000)).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHoldDueButNotYetExpired_WhenCaptureAtItsExpiry_ThenHoldNotActiveAsExpired() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(CaptureHold(0, at: Expiry)).Then());

    [Fact]
    public void GivenNoSuchHold_WhenCapture_ThenHoldNotFound() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHold40OnAccountFrozenSince_WhenCapture_ThenAccountFrozen() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), Frozen).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHold40OnAccountWithDebitsBlockedSince_WhenCapture_ThenDebitsBlocked() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), Restricted(debits: true, credits: false)).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHold150OnOverdraft50_WhenCaptureAll_ThenBalanceMinus50() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), OverdraftLimitSet(5_000), HoldPlaced(15_000)).When(CaptureHold(0)).Then());

    [Fact]
    public void GivenHold40_WhenCaptureNegative_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(CaptureHold(-1)).Then());
}
