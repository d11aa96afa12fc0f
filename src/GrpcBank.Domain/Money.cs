namespace GrpcBank.Domain;

/// <summary>Limits on amounts of money, in minor units (cents for EUR). Money is never a float.</summary>
public static class Money
{
    /// <summary>The largest single movement: 10^13 minor units (100 billion in a two-decimal currency).</summary>
    public const long MaxAmountMinor = 10_000_000_000_000;

    /// <summary>The largest balance an account may hold; far below long.MaxValue so sums never overflow.</summary>
    public const long MaxBalanceMinor = 1_000_000_000_000_000;

    public static bool IsValidAmount(long amountMinor) => amountMinor is > 0 and <= MaxAmountMinor;
}
