using System.Text;
using System.Text.Json;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// JSON strings and names that are JSON but not text: a <c>\u</c> escape of a UTF-16 surrogate without its partner
/// (<c>"\ud800"</c>) parses, yet no string can hold it, and reading it throws (an empty 500 from the JSON API, before
/// this). Every string and name of a body is judged here before anything reads it.
/// </summary>
internal static class JsonText
{
    /// <summary>Why such a string is refused, for a field violation's description.</summary>
    public const string Why =
        "not valid text: a \\u escape of a UTF-16 surrogate must pair a high one (\\ud800 to \\udbff) with a low one (\\udc00 to \\udfff) right after it";

    /// <summary>Whether a JSON string reads as text.</summary>
    public static bool Reads(JsonElement text)
    {
        try
        {
            _ = text.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Why a query-string value whose percent-encoded bytes are not UTF-8 is refused.</summary>
    public const string WhyNotUtf8 = "not valid text: its percent-encoded bytes must be UTF-8";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The parameters of a raw query string (as sent, <c>?a=1&amp;b=%FF</c>) whose value is not UTF-8 once its escapes
    /// are decoded, by their name. ASP.NET leaves such an escape undecoded (<c>%FF</c> stays those three characters), so
    /// a search for <c>Zo%FF</c> would have searched for "zo" and "ff": text the caller never sent.
    /// </summary>
    public static IEnumerable<string> ParametersNotUtf8(string rawQuery)
    {
        foreach (var parameter in rawQuery.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = parameter.IndexOf('=');
            var (name, value) = equals < 0 ? (parameter, "") : (parameter[..equals], parameter[(equals + 1)..]);
            if (!IsUtf8(value)) yield return IsUtf8(name) ? Uri.UnescapeDataString(name.Replace('+', ' ')) : name;
        }
    }

    private static bool IsUtf8(string escaped)
    {
        try
        {
            _ = StrictUtf8.GetString(System.Web.HttpUtility.UrlDecodeToBytes(escaped));
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>A property's name, or, when it is not text, its escaped form as sent (between its quotes).</summary>
    public static (string Name, bool Reads) NameOf(JsonProperty property)
    {
        try
        {
            return (property.Name, true);
        }
        catch (InvalidOperationException)
        {
            // The property's raw text starts with its name in quotes; an escaped quote inside it is preceded by a backslash.
            var raw = property.ToString();
            var end = 1;
            while (raw[end] != '"') end += raw[end] == '\\' ? 2 : 1;
            return (raw[1..end], false);
        }
    }
}
