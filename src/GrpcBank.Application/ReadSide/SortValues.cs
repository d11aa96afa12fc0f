using System.Globalization;

namespace GrpcBank.Application.ReadSide;

/// <summary>
/// The invariant string forms of keyset sort values, shared by every store and checked at the edge, so a
/// tampered page token is refused as a bad argument instead of failing inside a store.
/// </summary>
public static class SortValues
{
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    public static DateTimeOffset? ParseTime(string value) =>
        DateTime.TryParseExact(value, TimeFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
            ? new DateTimeOffset(at, TimeSpan.Zero)
            : null;

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static long? ParseNumber(string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>A relevance score; what it means (and which way is better) is the store's business.</summary>
    public static string Score(double score) => score.ToString("R", CultureInfo.InvariantCulture);

    public static double? ParseScore(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;

    /// <summary>Whether <paramref name="value"/> has the form the sort of <paramref name="order"/> produces.</summary>
    public static bool Fits(AccountOrder order, string value) => order switch
    {
        AccountOrder.Relevance => ParseScore(value) is not null,
        AccountOrder.OwnerName or AccountOrder.OwnerNameDesc => true,
        AccountOrder.BalanceMinor or AccountOrder.BalanceMinorDesc => ParseNumber(value) is not null,
        AccountOrder.OpenedAt or AccountOrder.OpenedAtDesc => ParseTime(value) is not null,
        _ => false,
    };
}
