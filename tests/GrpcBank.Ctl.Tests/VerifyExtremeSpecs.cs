using GrpcBank.Application.EventStore;
using GrpcBank.Ctl.Verify;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Ctl.Tests;

/// <summary>
/// bankctl verify's money totals at the bank's extremes: every balance may be 10^15 minor units, so the sum of a
/// currency's balances passes an int64 (about 9.2 × 10^18) once 9,224 accounts hold that much, and its deposits or
/// withdrawals after as many maximal movements.
/// </summary>
public sealed class VerifyExtremeSpecs
{
    [Fact]
    public void AccountsAtTheBalanceLimit_WhoseSumPassesInt64_AddUpExactly_NeverOverflowOrWrapAround()
    {
        const int accounts = (int)(long.MaxValue / Money.MaxBalanceMinor) + 1; // 9,224
        const long depositsEach = Money.MaxBalanceMinor / Money.MaxAmountMinor; // 100 maximal deposits reach the limit
        var ledger = new Ledger();
        var (openedType, _) = EventCodecs.Accounts.Encode(new AccountEvent.AccountOpened("x", "x", "EUR"));
        var position = 0L;
        for (var a = 0; a < accounts; a++)
        {
            var id = $"a{a}";
            var (_, opened) = EventCodecs.Accounts.Encode(new AccountEvent.AccountOpened(id, "Ada", "EUR"));
            ledger.Add($"account-{id}", 1, ++position, openedType, opened);
            var (depositType, deposit) = EventCodecs.Accounts.Encode(new AccountEvent.MoneyDeposited(id, Money.MaxAmountMinor, "EUR", ""));
            for (var v = 2L; v <= depositsEach + 1; v++) ledger.Add($"account-{id}", v, ++position, depositType, deposit);
        }

        var money = ledger.CheckMoney();

        var total = (Int128)Money.MaxBalanceMinor * accounts; // 9.224 × 10^18, past long.MaxValue
        Assert.Empty(ledger.Problems);
        Assert.Empty(money.Problems);
        var eur = Assert.Single(money.Currencies);
        Assert.Equal((total, total, Int128.Zero, Int128.Zero),
            ((Int128)eur.BalancesMinor, (Int128)eur.DepositsMinor, (Int128)eur.WithdrawalsMinor, (Int128)eur.UnexplainedMinor));
        Assert.True(ledger.Accounts.All(f => f.State.BalanceMinor == Money.MaxBalanceMinor));

        // Printed as the exact sum, for people and for machines.
        var report = new VerifyReport(position, "test", ledger.Events, new Checked(accounts, 0, 0, 0), money, money.Problems);
        var text = new StringWriter();
        report.WriteText(text);
        Assert.Contains("EUR  balances 92,240,000,000,000,000.00 EUR = deposits 92,240,000,000,000,000.00 EUR − withdrawals 0.00 EUR  ✓", text.ToString());
        Assert.Contains("\"balancesMinor\":9224000000000000000,", report.ToJson());
    }
}
