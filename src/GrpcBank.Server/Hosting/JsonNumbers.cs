using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Numbers as proto3 JSON has a parser read them: a JSON number or a string holding one, exponent notation included
/// (<c>1e3</c>, <c>"1e3"</c>, <c>700.0</c>), an integer field's value whole. A string must be a JSON number to the letter:
/// no <c>+</c>, no leading zero, no spaces, as protobuf's own parsers refuse them.
/// </summary>
internal static partial class JsonNumbers
{
    /// <summary>Digits past this many, once the exponent is applied, are beyond every integer field's range.</summary>
    private const int MaxIntegerDigits = 40;

    /// <summary>The exact whole number <paramref name="value"/> holds, or null (not a number, or not whole).</summary>
    public static BigInteger? Integer(JsonElement value) => Text(value) is { } text ? Integer(text) : null;

    /// <summary>
    /// The number <paramref name="value"/> holds, or null; NaN and the infinities only by their names in a string, a
    /// number past a double's range is refused rather than read as infinite.
    /// </summary>
    public static double? Real(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.TryGetDouble(out var number) ? number : null,
        JsonValueKind.String => value.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            var text when Number().IsMatch(text!) && double.Parse(text!, NumberStyles.Float, CultureInfo.InvariantCulture) is var number
                && double.IsFinite(number) => number,
            _ => null,
        },
        _ => null,
    };

    private static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.String => value.GetString(),
        _ => null,
    };

    private static BigInteger? Integer(string text)
    {
        if (Number().Match(text) is not { Success: true } match) return null;
        var (sign, whole, fraction, exponent) = (match.Groups[1].Value, match.Groups[2].Value, match.Groups[3].Value, match.Groups[4].Value);
        var digits = (whole + fraction).TrimStart('0');
        if (digits.Length == 0) return BigInteger.Zero;
        // An exponent too long for an int moves a nonzero number out of every range, or below 1.
        if (!int.TryParse(exponent.Length == 0 ? "0" : exponent, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var power))
            return null;
        var scale = (long)power - fraction.Length;
        if (scale < 0)
        {
            // The digits past the decimal point, once the exponent is applied, must all be zero.
            if (-scale >= digits.Length || digits[(int)(digits.Length + scale)..].Any(d => d != '0')) return null;
            digits = digits[..(int)(digits.Length + scale)];
        }
        else if (digits.Length + scale > MaxIntegerDigits) return null;
        else digits += new string('0', (int)scale);
        var magnitude = BigInteger.Parse(digits, CultureInfo.InvariantCulture);
        return sign == "-" ? -magnitude : magnitude;
    }

    [GeneratedRegex(@"^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$", RegexOptions.CultureInvariant)]
    private static partial Regex Number();
}
