namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenOpen_ThenAccountOpened() =>
        Snapshot.Match(Given().When(Open()).Then());

    [Fact]
    public void GivenActiveAccount_WhenOpen_ThenAccountAlreadyExists() =>
        Snapshot.Match(Given(Opened).When(Open()).Then());

    [Fact]
    public void GivenFrozenAccount_WhenOpen_ThenAccountAlreadyExists() =>
        Snapshot.Match(Given(Opened, Frozen).When(Open()).Then());

    [Fact]
    public void GivenClosedAccount_WhenOpen_ThenAccountAlreadyExists() =>
        Snapshot.Match(Given(Opened, Closed).When(Open()).Then());
}
