namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenUnfreeze_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(Unfreeze()).Then());

    [Fact]
    public void GivenFrozenAccount_WhenUnfreeze_ThenAccountUnfrozen() =>
        Snapshot.Match(Given(Opened, Frozen).When(Unfreeze()).Then());

    [Fact]
    public void GivenActiveAccount_WhenUnfreeze_ThenNoEvents() =>
        Snapshot.Match(Given(Opened).When(Unfreeze()).Then());

    [Fact]
    public void GivenClosedAccount_WhenUnfreeze_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(Unfreeze()).Then());
}
