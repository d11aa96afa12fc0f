namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenClose_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(Close()).Then());

    [Fact]
    public void GivenEmptyActiveAccount_WhenClose_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened).When(Close()).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenClose_ThenBalanceNotZero() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Close()).Then());

    [Fact]
    public void GivenAccountEmptiedByWithdrawal_WhenClose_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Withdrawn(Hundred)).When(Close()).Then());

    [Fact]
    public void GivenEmptyFrozenAccount_WhenClose_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Frozen).When(Close()).Then());

    [Fact]
    public void GivenFrozenAccountWith100_WhenClose_ThenBalanceNotZero() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Frozen).When(Close()).Then());

    [Fact]
    public void GivenClosedAccount_WhenClose_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(Close()).Then());

    [Fact]
    public void GivenEmptyAccountWithHoldOnOverdraft_WhenClose_ThenAccountHasHolds() =>
        Snapshot.Match(Given(Opened, OverdraftLimitSet(5_000), HoldPlaced(4_000)).When(Close()).Then());

    [Fact]
    public void GivenAccountWithHold_WhenClose_ThenAccountHasHolds() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(Close()).Then());

    [Fact]
    public void GivenAccountWhoseHoldWasCapturedAndRestWithdrawn_WhenClose_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000), HoldCaptured(4_000, 0), Withdrawn(6_000)).When(Close()).Then());
}
