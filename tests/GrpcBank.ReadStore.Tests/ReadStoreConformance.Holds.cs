using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.ReadStore.Tests;

/// <summary>Holds, overdraft limits and restrictions on the read side: the account's figures, ListHolds and the expiry index.</summary>
public abstract partial class ReadStoreConformance
{
    private static RecordedEvent Placed(History h, string accountId, string holdId, long amount, DateTimeOffset expiresAt) =>
        h.Account(new AccountEvent.HoldPlaced(accountId, holdId, amount, "EUR", $"auth {holdId}", expiresAt));

    [Fact]
    public async Task AnAccountShowsWhatIsHeld_Available_ItsLimit_AndItsRestrictions()
    {
        var h = new History();
        await ApplyAsync(h, h.Opened("a1", "Ada Lovelace"), h.Deposited("a1", 1_000),
            h.Account(new AccountEvent.OverdraftLimitSet("a1", 500)),
            Placed(h, "a1", "h1", 1_200, History.Start.AddDays(1)),
            h.Account(new AccountEvent.AccountRestricted("a1", true, false, "court order")));

        var account = (await Store.GetAccountAsync("a1", None))!;

        Assert.Equal((1_000L, 1_200L, -200L, 500L, true, false),
            (account.BalanceMinor, account.HeldMinor, account.AvailableMinor, account.OverdraftLimitMinor, account.DebitsBlocked, account.CreditsBlocked));
    }

    [Fact]
    public async Task HoldsAreListedNewestFirst_WithHowTheyEnded_AndACaptureIsOnTheStatement()
    {
        var h = new History();
        var expiry = History.Start.AddDays(1);
        RecordedEvent[] batch =
        [
            h.Opened("a1", "Ada Lovelace"), h.Deposited("a1", 10_000),
            Placed(h, "a1", "h1", 4_000, expiry), Placed(h, "a1", "h2", 1_000, expiry), Placed(h, "a1", "h3", 500, expiry),
            h.Account(new AccountEvent.HoldCaptured("a1", "h1", 2_500, 1_500, "EUR", "shipped", "", "")),
            h.Account(new AccountEvent.HoldReleased("a1", "h2", 1_000)),
        ];
        await ApplyAsync(h, batch[..3]);
        // The capture arrives in a later batch than its hold, as the relay may deliver it.
        await ApplyAsync(h, batch[3..]);
        await ApplyAsync(h, batch);

        var holds = (await Store.ListHoldsAsync(new HoldQuery("a1", 10, null), None)).Items;
        var account = (await Store.GetAccountAsync("a1", None))!;

        Assert.Equal([("h3", HoldViewStatus.Active, 0L), ("h2", HoldViewStatus.Released, 0L), ("h1", HoldViewStatus.Captured, 2_500L)],
            holds.Select(x => (x.HoldId, x.Status, x.CapturedMinor)));
        Assert.Equal((4_000L, expiry), (holds[2].AmountMinor, holds[2].ExpiresAt));
        Assert.Equal((7_500L, 500L, 7_000L), (account.BalanceMinor, account.HeldMinor, account.AvailableMinor));
        var capture = (await StatementAsync("a1")).Last();
        Assert.Equal((TransactionKind.Capture, 2_500L, 7_500L), (capture.Kind, capture.AmountMinor, capture.BalanceAfterMinor));
    }

    [Fact]
    public async Task HoldsPageByKeyset()
    {
        var h = new History();
        await ApplyAsync(h, [h.Opened("a1", "Ada Lovelace"), h.Deposited("a1", 10_000),
            .. Enumerable.Range(1, 5).Select(i => Placed(h, "a1", $"h{i}", 100, History.Start.AddDays(1)))]);

        var first = await Store.ListHoldsAsync(new HoldQuery("a1", 2, null), None);
        var second = await Store.ListHoldsAsync(new HoldQuery("a1", 2, first.NextAfter), None);
        var third = await Store.ListHoldsAsync(new HoldQuery("a1", 2, second.NextAfter), None);

        Assert.Equal(["h5", "h4", "h3", "h2", "h1"], first.Items.Concat(second.Items).Concat(third.Items).Select(x => x.HoldId));
    }

    [Fact]
    public async Task DueHolds_AreTheActiveOnesWhoseTimeIsUp_SoonestFirst()
    {
        var h = new History();
        var now = History.Start.AddHours(1);
        await ApplyAsync(h, h.Opened("a1", "Ada Lovelace"), h.Opened("a2", "Alan Turing"),
            Placed(h, "a1", "late", 100, now.AddSeconds(1)),
            Placed(h, "a1", "exact", 100, now),
            Placed(h, "a2", "early", 100, now.AddMinutes(-5)),
            Placed(h, "a2", "gone", 100, now.AddMinutes(-10)),
            h.Account(new AccountEvent.HoldExpired("a2", "gone", 100, now.AddMinutes(-10))));

        var due = await Store.DueHoldsAsync(now, 10, None);
        var one = await Store.DueHoldsAsync(now, 1, None);

        Assert.Equal([("a2", "early"), ("a1", "exact")], due.Select(x => (x.AccountId, x.HoldId)));
        Assert.Equal("early", Assert.Single(one).HoldId);
    }
}
