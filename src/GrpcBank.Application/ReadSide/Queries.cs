namespace GrpcBank.Application.ReadSide;

/// <summary>
/// One page of results. <see cref="NextAfter"/> is the sort key of the last item when more may follow. <see cref="TotalSize"/>
/// counts every match, for the searches whose replies carry a total; it is -1 for statements and holds, whose replies
/// carry none: counting them would read an account's whole history on every page.
/// </summary>
public sealed record Page<T>(IReadOnlyList<T> Items, SortKey? NextAfter, long TotalSize);

/// <summary>
/// A keyset cursor: the sort value of the last item seen and its id (the tie-breaker), so paging stays stable
/// while new data arrives. Stores interpret <see cref="Value"/> according to the query's order.
/// </summary>
public sealed record SortKey(string Value, string Id);

public enum AccountOrder { Relevance, OwnerName, OwnerNameDesc, BalanceMinor, BalanceMinorDesc, OpenedAt, OpenedAtDesc }

/// <param name="Text">
/// Free text on owner names; blank for all accounts. Text without a letter or digit (only punctuation, symbols or
/// emoji) has nothing to search for and finds no account; the same holds for <see cref="OrderSearch"/>.
/// </param>
public sealed record AccountSearch(
    string Text, AccountViewStatus? Status, string? CurrencyCode, AccountOrder Order, int PageSize, SortKey? After);

/// <summary>A statement page, oldest first; the time range is [From, To).</summary>
public sealed record TransactionQuery(string AccountId, DateTimeOffset? From, DateTimeOffset? To, int PageSize, SortKey? After);

/// <summary>How a store that keeps times to the microsecond compares them with a query's time bound.</summary>
public static class TimeBounds
{
    /// <summary>
    /// <paramref name="at"/> rounded up to a whole microsecond. Bounds arrive finer (a Timestamp carries nanoseconds, .NET
    /// keeps 100 ns ticks), and a store's own conversion truncated them: a statement from t + 100 ns listed the movement
    /// at t, one to t + 100 ns left it out. For a time kept to the microsecond, at or after <paramref name="at"/> is at
    /// or after this, and before it is before this, so [From, To) is exact. A bound past the last whole microsecond
    /// .NET holds is past every stored time as it is.
    /// </summary>
    public static DateTimeOffset Microsecond(DateTimeOffset at)
    {
        var rest = at.UtcTicks % TimeSpan.TicksPerMicrosecond;
        return rest == 0 || DateTimeOffset.MaxValue.UtcTicks - at.UtcTicks < TimeSpan.TicksPerMicrosecond - rest
            ? at
            : at.AddTicks(TimeSpan.TicksPerMicrosecond - rest);
    }
}

public enum SummaryInterval { Day, Month }

/// <param name="AccountId">Null: every account in <paramref name="CurrencyCode"/>.</param>
public sealed record SummaryQuery(string? AccountId, string? CurrencyCode, DateTimeOffset? From, DateTimeOffset? To, SummaryInterval Interval);

/// <summary>Sums and counts of money in (credits) and out (debits); <see cref="Start"/> is null for totals.</summary>
public sealed record SummaryBucket(DateTimeOffset? Start, long CreditMinor, long CreditCount, long DebitMinor, long DebitCount);

public sealed record TransactionSummary(IReadOnlyList<SummaryBucket> Buckets, SummaryBucket Totals);

/// <summary>Orders, newest first.</summary>
public sealed record OrderSearch(
    string Text, OrderViewStatus? Status, string? CustomerAccountId, string? MerchantAccountId, int PageSize, SortKey? After);

/// <summary>Payments, newest first. <paramref name="AccountId"/> matches payer or payee.</summary>
public sealed record PaymentSearch(PaymentViewStatus? Status, string? AccountId, string? OrderId, int PageSize, SortKey? After);

/// <summary>An account's holds, newest first.</summary>
public sealed record HoldQuery(string AccountId, int PageSize, SortKey? After);
