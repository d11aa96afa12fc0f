namespace GrpcBank.Application.ReadSide;

/// <summary>
/// A summary whose sum passes what an int64 of minor units holds (about 9.2 × 10^18): each amount is capped, their sum
/// over enough movements is not. The query, not the bank, is too wide, so the caller hears OUT_OF_RANGE and can narrow it.
/// </summary>
public sealed class SumOutOfRangeException(Exception? inner = null)
    : Exception("a sum of this summary passes 9223372036854775807 minor units", inner);
