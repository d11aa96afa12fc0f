using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Grpc.Core;
using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using ReadStoreSink = GrpcBank.Application.ReadSide.ReadStoreSink;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Holds, the overdraft limit and restrictions through real gRPC clients, on each store; time is the spec's clock.</summary>
public abstract class HoldSpecs : BankSpecs
{
    private AccountService.AccountServiceClient Accounts => Host.Accounts;

    /// <summary>The server's clock: holds expire when the spec moves it.</summary>
    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    protected void WithClock(WebApplicationBuilder builder) => builder.Services.AddSingleton<TimeProvider>(Clock);

    private async Task<int> HoldExpiredEventsAsync(string accountId) =>
        (await Host.Get<IEventStore>().ReadStreamAsync($"account-{accountId}", 1, 10_000, CancellationToken.None))
        .Count(e => e.EventType == "accounts.HoldExpired.v1");

    /// <summary>The hold once the read side shows it with this status.</summary>
    private Task<Hold> HoldAsync(string accountId, string holdId, HoldStatus status) =>
        Bank.EventuallyAsync(async () =>
            (await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = accountId })).Holds.SingleOrDefault(h => h.HoldId == holdId && h.Status == status));

    [Fact]
    public async Task AHoldWhoseTimeIsUp_IsReleasedByTheBankItself_NeverEarly_NeverTwice()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        var placed = await PlaceAsync(id, 4_000, "auth");
        await Bank.AccountAsync(id, placed.Position);
        var expiry = Host.Get<HoldExpiry>();

        Clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        var dueEarly = await expiry.ExpireDueAsync(CancellationToken.None);
        Clock.Advance(TimeSpan.FromTicks(1));
        var watch = Stopwatch.StartNew();
        var expired = await HoldAsync(id, "auth", HoldStatus.Expired);
        TestContext.Current.TestOutputHelper?.WriteLine($"released {watch.ElapsedMilliseconds} ms after its expiry (poll every {HoldExpiry.PollInterval.TotalMilliseconds} ms)");
        await expiry.ExpireDueAsync(CancellationToken.None);

        Assert.Equal(0, dueEarly);
        Assert.Equal(placed.ExpiresAt, expired.ExpiresAt);
        Assert.Equal((10_000, 0, 10_000), await AvailableAsync(id));
        await Rejected("HOLD_NOT_ACTIVE", () => Accounts.CaptureHoldAsync(new() { AccountId = id, HoldId = "auth" }).ResponseAsync);
        await Rejected("HOLD_NOT_ACTIVE", () => Accounts.ReleaseHoldAsync(new() { AccountId = id, HoldId = "auth" }).ResponseAsync);
        Assert.Equal(1, await HoldExpiredEventsAsync(id));
    }

    [Fact]
    public async Task HoldsReleasedWhileTheReadSideLags_AreNotAskedAboutAgain_AndTheHoldsBehindThemAreReleasedToo()
    {
        // More due holds than one look takes (500), and a read side that lists them all as active until it applies their
        // expiry: held back here, as a busy or failing read side would be.
        const int holds = 600;
        var id = await Bank.OpenAsync(deposit: holds);
        PlaceHoldResponse? last = null;
        for (var i = 0; i < holds; i++) last = await PlaceAsync(id, 1, $"h{i:D3}");
        await Bank.AccountAsync(id, last!.Position);
        var expiry = Host.Get<HoldExpiry>();
        var release = new TaskCompletionSource();
        var held = Host.Get<ReadStoreSink>().PausedAsync(async () => { await release.Task; return 0; }, CancellationToken.None);
        Clock.Advance(TimeSpan.FromMinutes(11));

        var asked = new List<int>();
        while (asked.Count < 10 && asked.LastOrDefault(-1) != 0) asked.Add(await expiry.ExpireDueAsync(CancellationToken.None));
        release.SetResult();
        await held;

        // Without the memory of what was answered, each look asked the same first 500 again (and went again at once).
        Assert.True(asked[^1] == 0, $"looks asked about {string.Join(", ", asked)} holds");
        Assert.Equal(holds, await HoldExpiredEventsAsync(id));
        Assert.Equal((holds, 0, holds), await AvailableAsync(id));
    }

    [Fact]
    public async Task AnExpiryOutsideAHoldsLifetime_IsInvalidArgument_NamingTheFieldThatGaveIt_WithTheRulesReason()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        PlaceHoldRequest Expiring(Action<PlaceHoldRequest> expiry)
        {
            var request = new PlaceHoldRequest { AccountId = id, AmountMinor = 400, CurrencyCode = "EUR" };
            expiry(request);
            return request;
        }
        var now = Clock.GetUtcNow();

        // A ttl under a microsecond ends, as every expiry is kept, at the clock's microsecond: now. It was refused naming
        // expires_at, which the request did not set.
        foreach (var ttl in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(-1), TimeSpan.FromTicks(1) })
            await InvalidFor("HOLD_EXPIRY_NOT_IN_FUTURE", "ttl",
                () => Accounts.PlaceHoldAsync(Expiring(r => r.Ttl = Duration.FromTimeSpan(ttl))).ResponseAsync);
        // The longest a Duration can be is past the range of a time: still the rule's refusal, not a fault of the bank.
        foreach (var ttl in new[] { TimeSpan.FromDays(31) + TimeSpan.FromMicroseconds(1), TimeSpan.FromDays(3_652_000) })
            await InvalidFor("HOLD_EXPIRY_TOO_FAR", "ttl", () => Accounts.PlaceHoldAsync(Expiring(r => r.Ttl = Duration.FromTimeSpan(ttl))).ResponseAsync);
        await InvalidFor("HOLD_EXPIRY_TOO_FAR", "expires_at",
            () => Accounts.PlaceHoldAsync(Expiring(r => r.ExpiresAt = Timestamp.FromDateTimeOffset(now.AddDays(31).AddMicroseconds(1)))).ResponseAsync);
        await InvalidFor("HOLD_EXPIRY_NOT_IN_FUTURE", "expires_at",
            () => Accounts.PlaceHoldAsync(Expiring(r => r.ExpiresAt = Timestamp.FromDateTimeOffset(now))).ResponseAsync);

        // The longest lifetime is still a hold's.
        var longest = await Accounts.PlaceHoldAsync(Expiring(r => r.Ttl = Duration.FromTimeSpan(TimeSpan.FromDays(31))));
        Assert.Equal(Timestamp.FromDateTimeOffset(now.AddDays(31)), longest.ExpiresAt);
        Assert.Equal(400, longest.HeldMinor);
    }

    [Fact]
    public async Task ARetriedPlaceHold_AnswersTheHoldItsFirstRunPlaced_ItsAssignedIdAndExpiry()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        var request = new PlaceHoldRequest
        {
            AccountId = id, AmountMinor = 400, CurrencyCode = "EUR", Ttl = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)), RequestId = NewId(),
        };
        var named = request.Clone();
        named.HoldId = "card-auth-1";
        named.RequestId = NewId();

        var first = await Accounts.PlaceHoldAsync(request);
        var firstNamed = await Accounts.PlaceHoldAsync(named);
        Clock.Advance(TimeSpan.FromMinutes(2));
        var retried = await Accounts.PlaceHoldAsync(request);
        var retriedNamed = await Accounts.PlaceHoldAsync(named);

        Assert.Equal(first, retried);
        Assert.Equal(firstNamed, retriedNamed);
        var holds = (await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = id, MinPosition = retriedNamed.Position })).Holds;
        Assert.Equal([(first.HoldId, first.ExpiresAt), ("card-auth-1", firstNamed.ExpiresAt)],
            holds.OrderBy(h => h.HoldId == "card-auth-1").Select(h => (h.HoldId, h.ExpiresAt)));
    }

    [Fact]
    public async Task AHoldPlacedAgainWithTheExpiryListHoldsShows_IsTheSameHold_WhateverDigitsBelowTheMicrosecondEitherPlacementHad()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        // 09:10:00.1234567: a Timestamp and .NET carry the 700 ns, the read stores keep microseconds.
        var fine = Timestamp.FromDateTimeOffset(Clock.GetUtcNow().AddMinutes(10).AddTicks(1_234_567));
        var micro = Timestamp.FromDateTimeOffset(Clock.GetUtcNow().AddMinutes(10).AddTicks(1_234_560));
        // And one whose ttl ends between microseconds, the server's clock being at 09:00:00.0000007.
        Clock.Advance(TimeSpan.FromTicks(7));

        var placedFine = await PlaceAtAsync(id, "fine", fine);
        var placedMicro = await PlaceAtAsync(id, "micro", micro);
        var placedTtl = await PlaceAsync(id, 1_000, "ttl");
        var listed = (await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = id, MinPosition = placedTtl.Position })).Holds
            .ToDictionary(h => h.HoldId, h => h.ExpiresAt);
        var againFine = await PlaceAtAsync(id, "fine", listed["fine"]);
        var againMicro = await PlaceAtAsync(id, "micro", fine);
        var againTtl = await PlaceAtAsync(id, "ttl", listed["ttl"]);
        var history = (await new HistoryService.HistoryServiceClient(Host.Channel).ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{id}" }))
            .Events.Where(e => e.EventType == "accounts.HoldPlaced.v1").Select(e => JsonDocument.Parse(e.DataJson).RootElement)
            .ToDictionary(e => e.GetProperty("holdId").GetString()!, e => Timestamp.FromDateTimeOffset(e.GetProperty("expiresAt").GetDateTimeOffset()));

        Assert.Equal(micro, listed["fine"]);
        Assert.Equal([listed["fine"], listed["micro"], listed["ttl"]], [placedFine.ExpiresAt, placedMicro.ExpiresAt, placedTtl.ExpiresAt]);
        Assert.Equal([listed["fine"], listed["micro"], listed["ttl"]], [againFine.ExpiresAt, againMicro.ExpiresAt, againTtl.ExpiresAt]);
        Assert.Equal(listed, history);
        Assert.Equal((placedTtl.Version, 3_000), (againTtl.Version, againTtl.HeldMinor));
    }

    private Task<PlaceHoldResponse> PlaceAtAsync(string accountId, string holdId, Timestamp expiresAt) =>
        Accounts.PlaceHoldAsync(new PlaceHoldRequest
        {
            AccountId = accountId, HoldId = holdId, AmountMinor = 1_000, CurrencyCode = "EUR", Reference = "card auth", ExpiresAt = expiresAt,
        }).ResponseAsync;

    [Fact]
    public async Task AHoldThatExpiresWhileTheServerIsDown_IsReleasedOnceAfterTheRestart()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        var placed = await PlaceAsync(id, 4_000, "auth");
        var kept = await PlaceAsync(id, 1_000, "later");
        await Bank.AccountAsync(id, kept.Position);

        await Host.RestartAsync(() => Clock.Advance(TimeSpan.FromMinutes(11)));
        await HoldAsync(id, "auth", HoldStatus.Expired);
        await HoldAsync(id, "later", HoldStatus.Expired);
        await Host.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None);

        Assert.True(placed.ExpiresAt.ToDateTimeOffset() < Clock.GetUtcNow());
        Assert.Equal(2, await HoldExpiredEventsAsync(id));
        Assert.Equal((10_000, 0, 10_000), await AvailableAsync(id));
    }

    private async Task<(long, long, long)> AvailableAsync(string accountId)
    {
        var account = await Bank.EventuallyAsync(async () =>
        {
            var a = await Bank.AccountAsync(accountId);
            return a.HeldMinor == 0 ? a : null;
        });
        return (account.BalanceMinor, account.HeldMinor, account.AvailableMinor);
    }

    private static readonly Duration TenMinutes = Duration.FromTimeSpan(TimeSpan.FromMinutes(10));

    private Task<PlaceHoldResponse> PlaceAsync(string accountId, long amountMinor, string holdId = "") =>
        Accounts.PlaceHoldAsync(new PlaceHoldRequest
        {
            AccountId = accountId, HoldId = holdId, AmountMinor = amountMinor, CurrencyCode = "EUR", Reference = "card auth", Ttl = TenMinutes,
        }).ResponseAsync;

    [Fact]
    public async Task AHoldPlacedThenPartlyCaptured_MovesTheCapturedMoneyOut_FreesTheRest_AndTheReadSideShowsIt()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);

        var placed = await PlaceAsync(id, 4_000, "auth-1");
        var captured = await Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = id, HoldId = "auth-1", AmountMinor = 2_500, Reference = "shipped" });

        Assert.Equal(("auth-1", 10_000, 4_000, 6_000), (placed.HoldId, placed.BalanceMinor, placed.HeldMinor, placed.AvailableMinor));
        Assert.Equal((7_500, 0, 7_500), (captured.BalanceMinor, captured.HeldMinor, captured.AvailableMinor));
        var account = await Bank.AccountAsync(id, captured.Position);
        Assert.Equal((7_500, 0, 7_500), (account.BalanceMinor, account.HeldMinor, account.AvailableMinor));
        var hold = Assert.Single((await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = id, MinPosition = captured.Position })).Holds);
        Assert.Equal(("auth-1", HoldStatus.Captured, 4_000, 2_500), (hold.HoldId, hold.Status, hold.AmountMinor, hold.CapturedMinor));
        var statement = (await Bank.Query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = id, MinPosition = captured.Position })).Transactions;
        Assert.Equal([(TransactionKind.Deposit, 10_000L), (TransactionKind.Capture, 2_500L)], statement.Select(t => (t.Kind, t.AmountMinor)));
    }

    [Fact]
    public async Task AnActiveHold_IsShownHeld_AndAReleaseFreesIt()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        var placed = await PlaceAsync(id, 3_000);

        var account = await Bank.AccountAsync(id, placed.Position);
        var released = await Accounts.ReleaseHoldAsync(new ReleaseHoldRequest { AccountId = id, HoldId = placed.HoldId });

        Assert.False(string.IsNullOrEmpty(placed.HoldId));
        Assert.Equal((10_000, 3_000, 7_000), (account.BalanceMinor, account.HeldMinor, account.AvailableMinor));
        Assert.Equal((0, 10_000), (released.HeldMinor, released.AvailableMinor));
        var hold = Assert.Single((await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = id, MinPosition = released.Position })).Holds);
        Assert.Equal(HoldStatus.Released, hold.Status);
    }

    [Fact]
    public async Task EveryHoldRejection_HasItsReason_AndWritesNothing()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        var placed = await PlaceAsync(id, 6_000, "big");

        await Rejected("INSUFFICIENT_FUNDS", () => PlaceAsync(id, 4_001));
        await Rejected("INSUFFICIENT_FUNDS", () => Accounts.WithdrawMoneyAsync(new() { AccountId = id, AmountMinor = 4_001, CurrencyCode = "EUR" }).ResponseAsync);
        await Rejected("CAPTURE_EXCEEDS_HOLD", () => Accounts.CaptureHoldAsync(new() { AccountId = id, HoldId = "big", AmountMinor = 6_001 }).ResponseAsync);
        await Rejected("HOLD_NOT_FOUND", () => Accounts.CaptureHoldAsync(new() { AccountId = id, HoldId = "nope" }).ResponseAsync, StatusCode.NotFound);
        await Rejected("ACCOUNT_HAS_HOLDS", () => Accounts.CloseAccountAsync(new() { AccountId = id }).ResponseAsync);
        await Rejected("HOLD_ALREADY_EXISTS", () => PlaceAsync(id, 1, "big"), StatusCode.AlreadyExists);
        await Accounts.CaptureHoldAsync(new() { AccountId = id, HoldId = "big" });
        var twice = await Rejected("HOLD_NOT_ACTIVE", () => Accounts.CaptureHoldAsync(new() { AccountId = id, HoldId = "big" }).ResponseAsync);
        await Rejected("HOLD_NOT_ACTIVE", () => Accounts.ReleaseHoldAsync(new() { AccountId = id, HoldId = "big" }).ResponseAsync);
        await Invalid(() => Accounts.PlaceHoldAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "expires_at");
        await Invalid(() => Accounts.PlaceHoldAsync(new()
        {
            AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1)),
        }).ResponseAsync, "expires_at");

        Assert.Equal("captured", twice.Metadata["hold_status"]);
        Assert.Equal(4_000, (await Bank.AccountAsync(id, placed.Position + 1)).BalanceMinor);
    }

    [Fact]
    public async Task TheOverdraftLimit_LetsDebitsTakeTheAvailableBalanceDownToMinusTheLimit_NeverFurther()
    {
        var id = await Bank.OpenAsync(deposit: 1_000);
        await Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = 500 });

        var held = await PlaceAsync(id, 1_200);
        var insufficient = await Rejected("INSUFFICIENT_FUNDS", () => Accounts.WithdrawMoneyAsync(new() { AccountId = id, AmountMinor = 301, CurrencyCode = "EUR" }).ResponseAsync);
        var withdrawn = await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 300, CurrencyCode = "EUR" });
        var lowered = await Rejected("OVERDRAFT_IN_USE", () => Accounts.SetOverdraftLimitAsync(new() { AccountId = id, LimitMinor = 499 }).ResponseAsync);

        Assert.Equal(-200, held.AvailableMinor);
        Assert.Equal(("-200", "500"), (insufficient.Metadata["available_minor"], insufficient.Metadata["overdraft_limit_minor"]));
        Assert.Equal(700, withdrawn.BalanceMinor);
        var account = await Bank.AccountAsync(id, withdrawn.Position);
        Assert.Equal((700, 1_200, -500, 500), (account.BalanceMinor, account.HeldMinor, account.AvailableMinor, account.OverdraftLimitMinor));
    }

    [Fact]
    public async Task ARestrictionOfNothing_IsInvalidArgumentNamingBlockDebits_WhateverTheAccount_AsALimitOutOfRangeIs()
    {
        var open = await Bank.OpenAsync();
        var closed = await Bank.OpenAsync();
        await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = closed });

        // It was told only to an open account: NOT_FOUND or ACCOUNT_CLOSED came first.
        foreach (var id in new[] { open, closed, "nobody" })
        {
            await InvalidFor("RESTRICTION_BLOCKS_NOTHING", "block_debits",
                () => Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, Reason = "review" }).ResponseAsync);
            await InvalidFor("INVALID_OVERDRAFT_LIMIT", "limit_minor",
                () => Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = id, LimitMinor = -1 }).ResponseAsync);
        }
        // Named beside any other malformed field, as every malformed field is.
        await Invalid(() => Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = open, Reason = new string('x', 501) }).ResponseAsync,
            "block_debits", "reason");
    }

    [Fact]
    public async Task ARestriction_BlocksDebitsOrCreditsWithItsReason_UntilLifted()
    {
        var id = await Bank.OpenAsync(deposit: 1_000);

        var restricted = await Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockDebits = true, Reason = "court order" });
        var account = await Bank.AccountAsync(id, restricted.Position);
        await Rejected("DEBITS_BLOCKED", () => Accounts.WithdrawMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync);
        await Rejected("DEBITS_BLOCKED", () => PlaceAsync(id, 1));
        await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" });
        // A second restriction adds to the first; one that would unblock debits is refused.
        await Rejected("RESTRICTION_WOULD_LOOSEN", () => Accounts.RestrictAccountAsync(new() { AccountId = id, BlockCredits = true, Reason = "court order" }).ResponseAsync);
        await Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = id, BlockDebits = true, BlockCredits = true, Reason = "court order" });
        await Rejected("CREDITS_BLOCKED", () => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync);
        await Rejected("DEBITS_BLOCKED", () => Accounts.WithdrawMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync);
        var lifted = await Accounts.LiftRestrictionAsync(new LiftRestrictionRequest { AccountId = id });
        var withdrawn = await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" });

        Assert.Equal((true, false), (account.DebitsBlocked, account.CreditsBlocked));
        Assert.Equal(1_000, withdrawn.BalanceMinor);
        var after = await Bank.AccountAsync(id, lifted.Position);
        Assert.Equal((false, false), (after.DebitsBlocked, after.CreditsBlocked));
    }

    [Fact]
    public async Task HundredConcurrentHoldsAndCaptures_OnOneAccount_NeverBreakTheAvailableBalanceInvariant()
    {
        var id = await Bank.OpenAsync(deposit: 10_000);
        var replies = new ConcurrentBag<(long Balance, long Held, long Available)>();

        // 100 holds of 150 want 15,000 of 10,000: exactly 66 fit, whatever the order.
        var placed = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            try
            {
                var reply = await PlaceAsync(id, 150, $"h{i}");
                replies.Add((reply.BalanceMinor, reply.HeldMinor, reply.AvailableMinor));
                return reply.HoldId;
            }
            catch (RpcException e) when (e.IsRefusedFor("INSUFFICIENT_FUNDS"))
            {
                return null;
            }
        }));
        var holds = placed.OfType<string>().ToList();
        // Each hold is captured (part of it) twice at once, and released at the same time: one of the three wins.
        var outcomes = await Task.WhenAll(holds.SelectMany(hold => new Func<Task<long>>[]
        {
            async () => (await Accounts.CaptureHoldAsync(new() { AccountId = id, HoldId = hold, AmountMinor = 100 })).Position,
            async () => (await Accounts.CaptureHoldAsync(new() { AccountId = id, HoldId = hold, AmountMinor = 100 })).Position,
            async () => (await Accounts.ReleaseHoldAsync(new() { AccountId = id, HoldId = hold })).Position,
        }).Select(async resolve =>
        {
            try
            {
                return await resolve();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
            {
                Assert.Equal("HOLD_NOT_ACTIVE", e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
                return -1;
            }
        }));

        Assert.Equal(66, holds.Count);
        Assert.All(replies, r => Assert.True(r.Available >= 0 && r.Available == r.Balance - r.Held, $"{r}"));
        Assert.Equal(holds.Count, outcomes.Count(p => p > 0));
        var account = await Bank.AccountAsync(id, outcomes.Max());
        var listed = (await Bank.Query.ListHoldsAsync(new ListHoldsRequest { AccountId = id, PageSize = 100, MinPosition = outcomes.Max() })).Holds;
        var captured = listed.Sum(h => h.CapturedMinor);
        Assert.Equal(66, listed.Count);
        Assert.DoesNotContain(listed, h => h.Status == HoldStatus.Active);
        Assert.Equal((10_000 - captured, 0, 10_000 - captured), (account.BalanceMinor, account.HeldMinor, account.AvailableMinor));
    }
}
