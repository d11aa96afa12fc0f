using System.CommandLine.Parsing;
using System.Globalization;

namespace GrpcBank.Ctl.Cli;

/// <summary>
/// Options given in seconds (--timeout, --interval), parsed straight into a <see cref="TimeSpan"/> within bounds.
/// A double alone would let "NaN", "Infinity" and "1e400" (∞) through to TimeSpan.FromSeconds, which throws; a value
/// that does not parse, or lies outside the bounds, is a usage error (exit 2) naming the option instead.
/// </summary>
public static class Seconds
{
    /// <summary>The option's value, <paramref name="min"/> to <paramref name="max"/> seconds; null after adding the error.</summary>
    public static TimeSpan? Parse(ArgumentResult result, string option, double min, double max)
    {
        var text = result.Tokens.Single().Value;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
            && double.IsFinite(seconds) && seconds >= min && seconds <= max)
            return TimeSpan.FromSeconds(seconds);
        result.AddError($"{option} must be a number of seconds from {Show(min)} to {Show(max)} (got '{text}')");
        return null;
    }

    private static string Show(double seconds) => seconds.ToString(CultureInfo.InvariantCulture);
}
