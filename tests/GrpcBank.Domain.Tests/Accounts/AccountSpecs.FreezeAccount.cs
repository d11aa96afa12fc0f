namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenFreeze_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(Freeze()).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenFreeze_ThenAccountFrozen() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(Freeze()).Then());

    [Fact]
    public void GivenFrozenAccount_WhenFreeze_ThenNoEvents() =>
        Snapshot.Match(Given(Opened, Frozen).When(Freeze()).Then());

    [Fact]
    public void GivenClosedAccount_WhenFreeze_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(Freeze()).Then());
}
