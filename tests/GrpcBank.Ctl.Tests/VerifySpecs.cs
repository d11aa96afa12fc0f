using System.Text.Json;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Ctl.Verify;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl verify: a healthy bank is clean (exit 0); a tampered read side or broken money is drift (exit 4).</summary>
public sealed class VerifySpecs(SeededBank bank) : IClassFixture<SeededBank>
{
    private const string Account = "s3-m001";

    [Fact]
    public async Task ASeededBank_VerifiesClean_WithTheCountsChecked()
    {
        var run = await Ctl.RunAsync(bank.Host, "verify");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.StartsWith("Verified ", run.Lines[0]);
        Assert.Contains("(the event store's head)", run.Lines[0]);
        Assert.Contains(run.Lines, line => line.StartsWith("accounts") && line.Contains("10 folded and compared"));
        Assert.Contains(run.Lines, line => line.StartsWith("EUR  balances") && line.EndsWith('✓'));
        Assert.DoesNotContain(run.Lines, line => line.StartsWith("DRIFT"));
        Assert.Equal("Verdict: clean. The read side matches the event store, and the money adds up.", run.Lines[^1]);
    }

    [Fact]
    public async Task ASeededBank_Json_IsOneCleanReport()
    {
        var run = await Ctl.RunAsync(bank.Host, "--json", "verify");

        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var json = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.True(json.GetProperty("clean").GetBoolean());
        Assert.Equal(10, json.GetProperty("checked").GetProperty("accounts").GetInt32());
        Assert.Equal(12, json.GetProperty("checked").GetProperty("orders").GetInt32());
        Assert.Equal(json.GetProperty("headPosition").GetInt64(), json.GetProperty("events").GetInt64());
        Assert.Empty(json.GetProperty("problems").EnumerateArray());
        // The totals are the bank's own: per currency, the sum of the balances its read side shows (an empty or made-up
        // list of currencies would pass a check of the unexplained amounts alone).
        var accounts = await bank.Host.Get<IReadStore>().SearchAccountsAsync(
            new AccountSearch("", null, null, AccountOrder.OpenedAt, 100, null), CancellationToken.None);
        Assert.Equal(10, accounts.Items.Count);
        var balances = accounts.Items.GroupBy(a => a.CurrencyCode).Select(g => (g.Key, g.Sum(a => a.BalanceMinor))).Order();
        var currencies = json.GetProperty("currencies").EnumerateArray().ToList();
        Assert.Equal(balances, currencies.Select(c => (c.GetProperty("currencyCode").GetString()!, c.GetProperty("balancesMinor").GetInt64())).Order());
        Assert.All(currencies, c => Assert.Equal((c.GetProperty("balancesMinor").GetInt64(), 0L), (
            c.GetProperty("depositsMinor").GetInt64() - c.GetProperty("withdrawalsMinor").GetInt64() + c.GetProperty("inFlightMinor").GetInt64(),
            c.GetProperty("unexplainedMinor").GetInt64())));
    }

    [Fact]
    public async Task AReadSideViewAheadOfTheEventStore_IsDrift_NamingTheAccountAndTheFields()
    {
        await using var host = await SeededHostAsync();
        var readStore = host.Services.GetRequiredService<IReadStore>();
        var view = (await readStore.GetAccountAsync(Account, CancellationToken.None))!;
        var (type, data) = EventCodecs.Accounts.Encode(new AccountEvent.MoneyDeposited(Account, 1_000, view.CurrencyCode, "never happened"));
        // A deposit the event store never recorded: the view moves to a version the stream does not have.
        await readStore.ApplyAsync(
            [new RecordedEvent(1_000_000, $"account-{Account}", view.Version + 1, Guid.NewGuid(), type, data, "{}", DateTimeOffset.UtcNow)],
            0, CancellationToken.None);

        var run = await Ctl.RunAsync(host, "verify");
        var json = await Ctl.RunAsync(host, "--json", "verify");

        Assert.Equal(4, run.ExitCode);
        Assert.Contains($"DRIFT  account {Account}  balance_minor: write side {view.BalanceMinor}, read side {view.BalanceMinor + 1_000}", run.Lines);
        Assert.Contains($"DRIFT  account {Account}  version: write side {view.Version}, read side {view.Version + 1}", run.Lines);
        Assert.Equal("Verdict: DRIFT. 2 problems found (exit 4).", run.Lines[^1]);
        Assert.Equal(4, json.ExitCode);
        var problems = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("problems").EnumerateArray().ToList();
        Assert.Contains(problems, p => p.GetProperty("subject").GetString() == $"account {Account}"
            && p.GetProperty("field").GetString() == "balance_minor"
            && p.GetProperty("writeSide").GetString() == view.BalanceMinor.ToString()
            && p.GetProperty("readSide").GetString() == (view.BalanceMinor + 1_000).ToString());
    }

    [Fact]
    public async Task APaymentDebitWithoutAnyPayment_BreaksTheMoneyInvariant_NamingThePayment()
    {
        await using var host = await SeededHostAsync();
        var store = host.Services.GetRequiredService<IEventStore>();
        var streamId = $"account-{Account}";
        var last = (await store.ReadStreamBackwardAsync(streamId, long.MaxValue, 1, CancellationToken.None)).Single();
        var currency = (await host.Services.GetRequiredService<IReadStore>().GetAccountAsync(Account, CancellationToken.None))!.CurrencyCode;
        var (type, data) = EventCodecs.Accounts.Encode(
            new AccountEvent.PaymentDebited(Account, new Movement("ghost-1", "", 2_500, currency), Settlement.Saga));
        // Straight into the store, past every rule: money leaves the account for a payment that does not exist.
        var appended = await store.AppendAsync(new AppendRequest(streamId, last.StreamVersion,
            [new EventData(Guid.NewGuid(), type, data, "{}")], null, DateTimeOffset.UtcNow), CancellationToken.None);
        Assert.IsType<AppendResult.Appended>(appended);

        var run = await Ctl.RunAsync(host, "verify");

        Assert.Equal(4, run.ExitCode);
        Assert.Contains(run.Lines, line => line.StartsWith("DRIFT  payment ghost-1  movements: debited 2500, credited 0")
            && line.Contains(Account) && line.Contains("no payment-ghost-1 stream"));
        Assert.Contains(run.Lines, line => line.StartsWith($"DRIFT  {currency}  sum of balances:") && line.Contains($"-2500 {currency} unexplained"));
        // The read side applied the same event: it agrees with the write side, only the money is wrong.
        Assert.DoesNotContain(run.Lines, line => line.StartsWith("DRIFT  account"));
    }

    [Fact]
    public void MoneyInFlight_IsListedWithItsPayment_AndIsAProblem_SinceMoneyMovesAtomically()
    {
        var ledger = new Ledger();
        Add(ledger, "account-a", 1, 1, new AccountEvent.AccountOpened("a", "Ada", "EUR"));
        Add(ledger, "account-a", 2, 2, new AccountEvent.MoneyDeposited("a", 5_000, "EUR", "salary"));
        Add(ledger, "account-b", 1, 3, new AccountEvent.AccountOpened("b", "Bob", "EUR"));
        Add(ledger, "payment-p1", 1, 4, new PaymentEvent.PaymentInitiated("p1", "", "a", "b", 700, "EUR", "rent", Settlement.Saga));
        Add(ledger, "account-a", 3, 5, new AccountEvent.PaymentDebited("a", new Movement("p1", "", 700, "EUR"), Settlement.Saga));
        Add(ledger, "payment-p1", 2, 6, new PaymentEvent.PayerDebited("p1", "b", new Movement("p1", "", 700, "EUR")));

        var money = ledger.CheckMoney();

        Assert.Empty(ledger.Problems);
        var problem = Assert.Single(money.Problems);
        Assert.Equal(("money", "payment p1", "in flight", "payer debited"), (problem.Check, problem.Subject, problem.Field, problem.WriteSide));
        Assert.Contains("700 EUR in flight", problem.Detail);
        var inFlight = Assert.Single(money.InFlight);
        Assert.Equal(("p1", "payer debited", -700L), (inFlight.PaymentId, inFlight.Status, inFlight.NetMinor));
        // Reported once, as in flight: the sums are explained.
        Assert.Equal(0, Assert.Single(money.Currencies).UnexplainedMinor);
    }

    [Fact]
    public void HoldsCapturesAndAnOverdraft_WithinTheRules_VerifyClean_AndACaptureCountsAsMoneyOut()
    {
        var ledger = new Ledger();
        var expiry = DateTimeOffset.UnixEpoch.AddDays(1);
        Add(ledger, "account-a", 1, 1, new AccountEvent.AccountOpened("a", "Ada", "EUR"));
        Add(ledger, "account-a", 2, 2, new AccountEvent.MoneyDeposited("a", 5_000, "EUR", "salary"));
        Add(ledger, "account-a", 3, 3, new AccountEvent.OverdraftLimitSet("a", 1_000));
        Add(ledger, "account-a", 4, 4, new AccountEvent.HoldPlaced("a", "h1", 5_500, "EUR", "card", expiry));
        Add(ledger, "account-a", 5, 5, new AccountEvent.HoldPlaced("a", "h2", 500, "EUR", "card", expiry));
        Add(ledger, "account-a", 6, 6, new AccountEvent.HoldCaptured("a", "h1", 5_200, 300, "EUR", "shipped", "", ""));

        var money = ledger.CheckMoney();

        Assert.Empty(ledger.Problems);
        Assert.Empty(money.Problems);
        Assert.Equal((-200L, 5_000L, 5_200L), (money.Currencies[0].BalancesMinor, money.Currencies[0].DepositsMinor, money.Currencies[0].WithdrawalsMinor));
    }

    [Fact]
    public void AnAccountBelowMinusItsLimit_IsAProblemNamingTheAccount()
    {
        var ledger = new Ledger();
        Add(ledger, "account-a", 1, 1, new AccountEvent.AccountOpened("a", "Ada", "EUR"));
        // Such history can only be forged: the account's own rules never write it.
        Add(ledger, "account-a", 2, 2, new AccountEvent.HoldPlaced("a", "h1", 700, "EUR", "card", DateTimeOffset.UnixEpoch.AddDays(1)));

        var problem = Assert.Single(ledger.CheckMoney().Problems);

        Assert.Equal(("account", "a", "available"), (problem.Check, problem.Subject, problem.Field));
    }

    [Fact]
    public void AVersionGapOrAPositionOutOfOrder_IsAProblemOfTheFeed()
    {
        var ledger = new Ledger();
        Add(ledger, "account-a", 1, 5, new AccountEvent.AccountOpened("a", "Ada", "EUR"));
        Add(ledger, "account-a", 3, 6, new AccountEvent.MoneyDeposited("a", 100, "EUR", ""));
        Add(ledger, "account-b", 1, 6, new AccountEvent.AccountOpened("b", "Bob", "EUR"));

        Assert.Equal([("stream", "account-a", "stream_version"), ("feed", "position 6", "position")],
            ledger.Problems.Select(p => (p.Check, p.Subject, p.Field)));
    }

    private static void Add(Ledger ledger, string streamId, long version, long position, object e)
    {
        var (type, data) = e is AccountEvent account ? EventCodecs.Accounts.Encode(account) : EventCodecs.Payments.Encode((PaymentEvent)e);
        ledger.Add(streamId, version, position, type, data);
    }

    /// <summary>A small bank of its own, for specs that tamper with it.</summary>
    private static async Task<BankHost> SeededHostAsync()
    {
        var host = await BankHost.StartEmbeddedAsync();
        var seeded = await Ctl.RunAsync(host, "seed", "--accounts", "5", "--orders", "4", "--seed", "3");
        Assert.True(seeded.ExitCode == 0, seeded.Stderr);
        return host;
    }
}
