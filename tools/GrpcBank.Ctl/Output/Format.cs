using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace GrpcBank.Ctl.Output;

/// <summary>How bankctl spells money, times and enums for people, and messages for machines.</summary>
public static class Format
{
    // A batch result's error is a google.rpc.Status whose details (ErrorInfo, BadRequest) are packed in Any.
    private static readonly JsonFormatter ProtoJson = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true)
        .WithTypeRegistry(TypeRegistry.FromFiles(Google.Rpc.ErrorDetailsReflection.Descriptor)));

    /// <summary>One message as compact proto3 JSON (camelCase names, int64 as strings, defaults included).</summary>
    public static string Json(IMessage message) => ProtoJson.Format(message);

    /// <summary>
    /// Minor units as the currency writes them: 7450 EUR is "74.50 EUR", 500 JPY is "500 JPY". Whole numbers all the way
    /// (an Int128, for verify's totals over every account pass an int64), so no figure is ever rounded.
    /// </summary>
    public static string Money(Int128 minor, string currency)
    {
        var digits = MinorDigits(currency);
        if (digits == 0) return $"{minor.ToString("N0", CultureInfo.InvariantCulture)} {currency}";
        var scale = Int128.CreateChecked(Math.Pow(10, digits));
        var (whole, fraction) = (Int128.Abs(minor / scale), Int128.Abs(minor % scale));
        return $"{(minor < 0 ? "-" : "")}{whole.ToString("N0", CultureInfo.InvariantCulture)}."
            + $"{fraction.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0')} {currency}";
    }

    /// <summary>ISO 4217 minor-unit digits for the currencies that are not 2.</summary>
    private static int MinorDigits(string currency) => currency switch
    {
        "JPY" or "KRW" or "ISK" or "CLP" or "VND" or "XAF" or "XOF" or "UGX" or "PYG" => 0,
        "BHD" or "KWD" or "JOD" or "OMR" or "TND" or "IQD" or "LYD" => 3,
        _ => 2,
    };

    public static string Time(Timestamp? t) =>
        t is null ? "-" : t.ToDateTimeOffset().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>ACCOUNT_STATUS_FROZEN → "frozen" (the generated enum already drops the prefix).</summary>
    public static string Enum<T>(T value) where T : struct, System.Enum => value.ToString().ToLowerInvariant();

    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
