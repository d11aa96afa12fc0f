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

    [Fact]
    public void GivenNoAccount_WhenOpenWithoutCurrency_ThenUnknownCurrency() =>
        Snapshot.Match(Given().When(Open(currency: "")).Then());

    [Fact]
    public void GivenNoAccount_WhenOpenInLowerCaseEur_ThenUnknownCurrency() =>
        Snapshot.Match(Given().When(Open(currency: "eur")).Then());

    [Fact]
    public void GivenNoAccount_WhenOpenWithABlankOwnerName_ThenOwnerNameRequired() =>
        Snapshot.Match(Given().When(Open(owner: "  ")).Then());
}
