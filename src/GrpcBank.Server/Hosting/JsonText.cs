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
