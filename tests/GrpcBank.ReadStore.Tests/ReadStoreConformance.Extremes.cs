using GrpcBank.Application.ReadSide;
using GrpcBank.Domain;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// Money at the extremes on every read store: balances from an overdraft's −10^13 to the 10^15 limit (and the int64
/// bounds themselves, which no command writes) sort and page exactly, and sums across accounts past an int64 are
/// <see cref="SumOutOfRangeException"/>, never a wrapped or rounded figure.
/// </summary>
public abstract partial class ReadStoreConformance
{
    [Theory]
    [InlineData(AccountOrder.BalanceMinor)]
    [InlineData(AccountOrder.BalanceMinorDesc)]
    public async Task PagingByBalance_ThroughTheExtremes_SeesEachAccountOnce_InOrder(AccountOrder order)
    {
        var h = new History();
        await ApplyAsync(h,
            h.Opened("x-min", "Min"), h.Withdrawn("x-min", long.MaxValue), h.Withdrawn("x-min", 1),
            h.Opened("x-overdrawn", "Overdrawn"), h.Withdrawn("x-overdrawn", Money.MaxAmountMinor),
            h.Opened("x-zero-a", "Zero"), h.Opened("x-zero-b", "Zero"),
            h.Opened("x-limit", "Limit"), h.Deposited("x-limit", Money.MaxBalanceMinor),
            h.Opened("x-max", "Max"), h.Deposited("x-max", long.MaxValue));

        var seen = new List<(string, long)>();
        SortKey? after = null;
        do
        {
            var page = await Store.SearchAccountsAsync(new AccountSearch("", null, null, order, 1, after), None);
            seen.AddRange(page.Items.Select(a => (a.AccountId, a.BalanceMinor)));
            after = page.NextAfter;
        } while (after is not null && seen.Count < 10);

        long[] ascending = [long.MinValue, -Money.MaxAmountMinor, 0, 0, Money.MaxBalanceMinor, long.MaxValue];
        Assert.Equal(order == AccountOrder.BalanceMinor ? ascending : [.. ascending.Reverse()], seen.Select(a => a.Item2));
        Assert.Equal(["x-limit", "x-max", "x-min", "x-overdrawn", "x-zero-a", "x-zero-b"], seen.Select(a => a.Item1).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ASummaryOfEveryAccount_WhoseSumsPassInt64_IsSumOutOfRange_WhileEachAccountsFits()
    {
        // Past an int64 only together: one day's debits of two accounts (summed by the store's own query), one account's
        // credits of two days in one month (summed after it). Each account's and each day's sum fits.
        const long halfPastInt64 = long.MaxValue / 2 + 1;
        var h = new History();
        var may1 = Day(2026, 5, 1);
        var events = new[] { h.At(may1).Opened("wide-1", "Ada"), h.Opened("wide-2", "Bob"), h.Opened("month-1", "Cy", "USD") }
            .Concat(new[] { "wide-1", "wide-2" }.Select(id => h.Withdrawn(id, halfPastInt64)))
            .Concat([h.Deposited("month-1", halfPastInt64, "USD"), h.At(may1.AddDays(1)).Deposited("month-1", halfPastInt64, "USD")]);
        await ApplyAsync(h, [.. events]);
        Task<TransactionSummary> Summarize(string? account, string? currency, SummaryInterval interval, DateTimeOffset? to = null) =>
            Store.SummarizeTransactionsAsync(new SummaryQuery(account, currency, to is null ? null : may1, to, interval), None);

        await Assert.ThrowsAsync<SumOutOfRangeException>(() => Summarize(null, "EUR", SummaryInterval.Day));
        await Assert.ThrowsAsync<SumOutOfRangeException>(() => Summarize("month-1", null, SummaryInterval.Month));
        Assert.Equal(new SummaryBucket(null, 0, 0, halfPastInt64, 1), (await Summarize("wide-1", null, SummaryInterval.Day)).Totals);
        Assert.Equal(new SummaryBucket(null, halfPastInt64, 1, 0, 0), (await Summarize(null, "USD", SummaryInterval.Month, to: may1.AddDays(1))).Totals);
    }
}
