namespace GrpcBank.Application.ReadSide;

/// <summary>
/// A summary whose sum passes what an int64 of minor units holds (about 9.2 × 10^18): each amount is capped, their sum
/// over enough movements is not. The query, not the bank, is too wide, so the caller hears OUT_OF_RANGE and can narrow it.
/// A store whose sums are exact only below a lower <paramref name="limit"/> refuses past it, saying <paramref name="why"/>.
/// </summary>
public sealed class SumOutOfRangeException(Exception? inner = null, long limit = long.MaxValue, string why = "")
    : Exception($"a sum of this summary passes {limit} minor units{why}", inner);
