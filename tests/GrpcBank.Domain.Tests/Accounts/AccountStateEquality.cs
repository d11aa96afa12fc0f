using GrpcBank.Domain.Accounts;

namespace GrpcBank.Domain.Tests.Accounts;

/// <summary>
/// An account state is equal to another by value, holds included: a state snapshot read back is checked against the
/// fold it was written from, so equality must notice any field and any hold's outcome.
/// </summary>
public sealed class AccountStateEquality
{
    private const string Id = "acc-0001";
    private static readonly DateTimeOffset Expiry = new(2026, 1, 15, 10, 30, 0, TimeSpan.Zero);

    private static readonly AccountEvent[] TwoHolds =
    [
        new AccountEvent.AccountOpened(Id, "Ada Lovelace", "EUR"),
        new AccountEvent.MoneyDeposited(Id, 10_000, "EUR", "salary"),
        new AccountEvent.HoldPlaced(Id, "hold-a", 1_000, "EUR", "card", Expiry),
        new AccountEvent.HoldPlaced(Id, "hold-b", 2_000, "EUR", "hotel", Expiry),
    ];

    private static AccountState Fold(params AccountEvent[] events) => Account.Decider.Fold(events);

    [Fact]
    public void GivenTheSameHistoryFoldedTwice_ThenTheStatesAreEqual() =>
        Assert.Equal(Fold(TwoHolds), Fold(TwoHolds));

    [Fact]
    public void GivenStatesThatDifferInTheBalanceAlone_ThenTheyAreNotEqual() =>
        Assert.NotEqual(Fold(TwoHolds), Fold([.. TwoHolds, new AccountEvent.MoneyDeposited(Id, 1, "EUR", "interest")]));

    // Same balance, same sum held: only the holds tell them apart.
    [Fact]
    public void GivenStatesWhoseHoldsDifferInOneOutcomeAlone_ThenTheyAreNotEqual()
    {
        var released = Fold([.. TwoHolds, new AccountEvent.HoldReleased(Id, "hold-b", 2_000)]);
        var expired = Fold([.. TwoHolds, new AccountEvent.HoldExpired(Id, "hold-b", 2_000, Expiry)]);

        Assert.Equal((released.BalanceMinor, released.HeldMinor), (expired.BalanceMinor, expired.HeldMinor));
        Assert.NotEqual(released, expired);
    }
}
