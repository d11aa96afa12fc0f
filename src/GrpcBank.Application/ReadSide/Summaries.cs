namespace GrpcBank.Application.ReadSide;

/// <summary>Folds per-day sums into the requested interval and adds the totals; the same for every store.</summary>
public static class Summaries
{
    /// <param name="days">Buckets starting at midnight UTC, oldest first.</param>
    public static TransactionSummary Of(IReadOnlyList<SummaryBucket> days, SummaryInterval interval)
    {
        var buckets = interval == SummaryInterval.Day
            ? days
            : days.GroupBy(d => new DateTimeOffset(d.Start!.Value.Year, d.Start.Value.Month, 1, 0, 0, 0, TimeSpan.Zero))
                .Select(month => Sum(month.Key, month.ToList()))
                .ToList();
        return new TransactionSummary(buckets, Sum(null, days));
    }

    private static SummaryBucket Sum(DateTimeOffset? start, IReadOnlyList<SummaryBucket> buckets)
    {
        try
        {
            // LINQ's Sum of longs is checked.
            return new(start, buckets.Sum(b => b.CreditMinor), buckets.Sum(b => b.CreditCount), buckets.Sum(b => b.DebitMinor), buckets.Sum(b => b.DebitCount));
        }
        catch (OverflowException e)
        {
            throw new SumOutOfRangeException(e);
        }
    }
}
