using GrpcBank.Domain.Accounts;

namespace GrpcBank.Domain.Tests.Accounts;

public sealed partial class AccountSpecs
{
    [Fact]
    public void GivenNoAccount_WhenPlaceHold_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(PlaceHold(Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHold40_ThenHoldPlacedAnd60Available() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(4_000)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHold100_ThenHoldPlacedAndNothingAvailable() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(Hundred)).Then());

    [Fact]
    public void GivenActiveAccountWith100AndHold60_WhenPlaceHold50_ThenInsufficientFundsAgainstTheAvailable40() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(6_000, "hold-0000")).When(PlaceHold(5_000)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHold100Point01_ThenInsufficientFunds() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(Hundred + 1)).Then());

    [Fact]
    public void GivenAccountWith100AndOverdraft50_WhenPlaceHold150_ThenHoldPlacedDownToTheLimit() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), OverdraftLimitSet(5_000)).When(PlaceHold(15_000)).Then());

    [Fact]
    public void GivenAccountWithHold_WhenPlaceTheSameHoldAgain_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(PlaceHold(4_000)).Then());

    [Fact]
    public void GivenAccountWithHold_WhenPlaceAnotherHoldUnderItsId_ThenHoldAlreadyExists() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(PlaceHold(3_000)).Then());

    // The same hold id with another reference or currency is another hold, not a retry.
    [Fact]
    public void GivenAccountWithHold_WhenPlaceItAgainWithAnotherReference_ThenHoldAlreadyExists() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(PlaceHold(4_000, reference: "ref-0002")).Then());

    [Fact]
    public void GivenAccountWithHold_WhenPlaceItAgainInUsd_ThenHoldAlreadyExists() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(PlaceHold(4_000, currency: Usd)).Then());

    // A hold stored before expiries were kept to the microsecond, with 700 ns more: ListHolds shows it without them.
    [Fact]
    public void GivenAHoldWhoseStoredExpiryHasDigitsBelowTheMicrosecond_WhenPlaceItAgainWithThatExpiryToTheMicrosecond_ThenNothingChanges() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), new AccountEvent.HoldPlaced(Id, HoldId, 4_000, Eur, Reference, Expiry.AddTicks(7)))
            .When(PlaceHold(4_000, expiresAt: Expiry)).Then());

    [Fact]
    public void GivenAccountWithHold_WhenPlaceItAgainExpiringAMicrosecondLater_ThenHoldAlreadyExists() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), HoldPlaced(4_000)).When(PlaceHold(4_000, expiresAt: Expiry.AddTicks(10))).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHoldExpiringNow_ThenHoldExpiryNotInFuture() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(4_000, expiresAt: Now)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHoldExpiringAMicrosecondAfterTheLongestLifetime_ThenHoldExpiryTooFar() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(4_000, expiresAt: Now + Account.MaxHoldLifetime + TimeSpan.FromMicroseconds(1))).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHoldExpiringAtTheLongestLifetime_ThenHoldPlaced() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(4_000, expiresAt: Now + Account.MaxHoldLifetime)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHoldZero_ThenInvalidAmount() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(0)).Then());

    [Fact]
    public void GivenActiveAccountWith100_WhenPlaceHoldInUsd_ThenCurrencyMismatch() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred)).When(PlaceHold(4_000, currency: Usd)).Then());

    [Fact]
    public void GivenFrozenAccountWith100_WhenPlaceHold_ThenAccountFrozen() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Frozen).When(PlaceHold(4_000)).Then());

    [Fact]
    public void GivenAccountWithDebitsBlocked_WhenPlaceHold_ThenDebitsBlocked() =>
        Snapshot.Match(Given(Opened, Deposited(Hundred), Restricted(debits: true, credits: false)).When(PlaceHold(4_000)).Then());

    [Fact]
    public void GivenClosedAccount_WhenPlaceHold_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(PlaceHold(4_000)).Then());

    // Whether the account exists and is open is judged before anything the hold asks for.
    [Fact]
    public void GivenNoAccount_WhenPlaceHoldExpiringNow_ThenAccountNotFound() =>
        Snapshot.Match(Given().When(PlaceHold(4_000, expiresAt: Now)).Then());

    [Fact]
    public void GivenClosedAccount_WhenPlaceHoldExpiringNow_ThenAccountClosed() =>
        Snapshot.Match(Given(Opened, Closed).When(PlaceHold(4_000, expiresAt: Now)).Then());
}
