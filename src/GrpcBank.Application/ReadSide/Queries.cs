namespace GrpcBank.Application.ReadSide;

/// <summary>One page of results. <see cref="NextAfter"/> is the sort key of the last item when more may follow.</summary>
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
