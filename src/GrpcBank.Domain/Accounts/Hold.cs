namespace GrpcBank.Domain.Accounts;

/// <summary>How a hold ended, or that it has not yet. A hold resolves at most once.</summary>
public enum HoldStatus { Active, Captured, Released, Expired }

/// <summary>
/// Money reserved on an account until <see cref="ExpiresAt"/>: still in the balance, no longer available. It ends
/// captured (all or part taken out; the rest freed), released, or expired (released by the bank when its time is up).
/// </summary>
public sealed record Hold(
    string HoldId, long AmountMinor, string CurrencyCode, string Reference, DateTimeOffset ExpiresAt, HoldStatus Status, long CapturedMinor);

/// <summary>
/// The holds orders place are named after the order (<c>order-{order id}</c>): a retried placement finds its own hold,
/// and an expired hold names the order it authorised. Such ids are the orders' own: clients may not place, capture or
/// release them through the account, or an order's money could move without the order.
/// </summary>
public static class OrderHoldIds
{
    public const string Prefix = "order-";

    public static string Of(string orderId) => Prefix + orderId;

    public static bool IsOrderHold(string holdId) => holdId.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The order an order's hold authorises; null for any other hold.</summary>
    public static string? OrderOf(string holdId) => IsOrderHold(holdId) && holdId.Length > Prefix.Length ? holdId[Prefix.Length..] : null;
}
