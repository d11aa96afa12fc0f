using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using GrpcBank.Server.Errors;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Whether a value in a JSON body or a query string has a form the JSON transcoder reads into its field, and if not, what
/// the field takes, in words for a BadRequest. The transcoder refuses a value it cannot read without naming the field
/// ("The input string 'abc' was not in a correct format."), so each is judged here first. A body's forms are those proto3
/// JSON asks a parser to read: integers (int32 and int64 alike) and floating point as a JSON number or a string, exponent
/// notation included (<see cref="JsonNumbers"/>), enums by name or number, Timestamp and Duration as their strings, null
/// for "not set"; those the transcoder reads narrower are rewritten for it (<see cref="JsonRequestCanonicalForm"/>).
/// </summary>
internal static class JsonFieldValues
{
    /// <summary>The transcoder writes durations and reads them back only within the range of a .NET DateTime's seconds.</summary>
    private const long MinDurationSeconds = -62_135_596_800, MaxDurationSeconds = 253_402_300_799;

    /// <summary>
    /// Whether a field whose JSON is its own (a scalar, an enum, a Timestamp, …) reads <paramref name="value"/>; a plain
    /// message is an object whose fields are judged one by one.
    /// </summary>
    public static bool HasOwnForm(FieldDescriptor field) =>
        field.FieldType != FieldType.Message || field.MessageType.File.Package == "google.protobuf";

    /// <summary>Whether the transcoder reads <paramref name="value"/> (not null) from a JSON body into one value of <paramref name="field"/>.</summary>
    public static bool Reads(FieldDescriptor field, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String or JsonValueKind.Number when Wrapped(field) is { } wrapped => Reads(wrapped, value),
        JsonValueKind.String or JsonValueKind.Number when RangeOf(field) is var (min, max) =>
            JsonNumbers.Integer(value) is { } integer && integer >= min && integer <= max,
        JsonValueKind.String or JsonValueKind.Number when field.FieldType is FieldType.Double or FieldType.Float =>
            JsonNumbers.Real(value) is { } real && (field.FieldType == FieldType.Double || !double.IsFinite(real) || Math.Abs(real) <= float.MaxValue),
        JsonValueKind.Number => field.FieldType == FieldType.Enum && JsonNumbers.Integer(value) is { } number
            && number >= int.MinValue && number <= int.MaxValue && field.EnumType.FindValueByNumber((int)number) is not null,
        JsonValueKind.String => ReadsString(field, value.GetString()!, inQuery: false),
        JsonValueKind.True or JsonValueKind.False => field.FieldType == FieldType.Bool || Wrapped(field) is { FieldType: FieldType.Bool },
        // Struct, Value, ListValue, Any, FieldMask, Empty: no request of the bank has one; the transcoder judges them.
        _ => field.FieldType == FieldType.Message && Wrapped(field) is null && !IsTimeType(field.MessageType),
    };

    /// <summary>The values an integer field takes, or null for a field of another type.</summary>
    public static (BigInteger Min, BigInteger Max)? RangeOf(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => (long.MinValue, long.MaxValue),
        FieldType.UInt64 or FieldType.Fixed64 => (0, ulong.MaxValue),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => (int.MinValue, int.MaxValue),
        FieldType.UInt32 or FieldType.Fixed32 => (0, uint.MaxValue),
        _ => null,
    };

    /// <summary>Whether the transcoder reads each of a query parameter's values into <paramref name="field"/>.</summary>
    public static bool Reads(FieldDescriptor field, string value) => ReadsString(field, value, inQuery: true);

    /// <summary>What <paramref name="field"/> takes, as a field violation's description.</summary>
    public static string Form(FieldDescriptor field, bool inQuery)
    {
        if (Wrapped(field) is { } wrapped) return Form(wrapped, inQuery);
        var json = inQuery ? "" : " (a JSON number or a string holding one)";
        if (RangeOf(field) is var (min, max)) return $"must be a whole number from {min} to {max}{json}";
        return field.FieldType switch
        {
            FieldType.Double or FieldType.Float => "must be a number, NaN, Infinity or -Infinity",
            FieldType.Bool => "must be true or false",
            FieldType.String => "must be a JSON string",
            FieldType.Bytes => "must be base64",
            // The refusal gRPC gives an undefined value (QueryArguments.Enum), by name or number alike.
            FieldType.Enum => FieldErrors.OneOfDescription(field.EnumType.Values.Select(v => v.Name)),
            _ when field.MessageType.FullName == Timestamp.Descriptor.FullName =>
                "must be an RFC 3339 time in years 0001 to 9999, such as 2026-01-31T09:30:00Z or 2026-01-31T10:30:00.5+01:00",
            _ when field.MessageType.FullName == Duration.Descriptor.FullName =>
                $"must be seconds with up to 9 decimals and the suffix s, such as 30s or 1.5s, at most {MaxDurationSeconds}s; a negative one in whole seconds (-1s, not -1.5s)",
            _ => inQuery ? "is a message: give its fields instead, each as a parameter of its own (field.subfield=…)" : "must be a JSON object",
        };
    }

    private static bool ReadsString(FieldDescriptor field, string value, bool inQuery)
    {
        switch (field.FieldType)
        {
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
            case FieldType.UInt64 or FieldType.Fixed64:
                return ulong.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
            // A body's numbers are judged as proto3 JSON's (JsonNumbers) before; these are a query's, all strings. A
            // body's bool takes no string, as proto3 JSON has it.
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                return inQuery && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
            case FieldType.UInt32 or FieldType.Fixed32:
                return inQuery && uint.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
            case FieldType.Bool:
                return inQuery && bool.TryParse(value, out _);
            case FieldType.Double or FieldType.Float:
                return value is "NaN" or "Infinity" or "-Infinity"
                    || inQuery && double.TryParse(value, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out _);
            case FieldType.String:
                return true;
            case FieldType.Bytes:
                return Convert.TryFromBase64String(value, new byte[value.Length], out _);
            case FieldType.Enum:
                return (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && inQuery
                    ? field.EnumType.FindValueByNumber(number)
                    : field.EnumType.FindValueByName(value)) is not null;
        }
        if (Wrapped(field) is { } wrapped) return ReadsString(wrapped, value, inQuery);
        if (field.MessageType.FullName == Timestamp.Descriptor.FullName) return Parsed(Timestamp.Parser, value) is not null;
        if (field.MessageType.FullName == Duration.Descriptor.FullName)
            // Protobuf's own range (±315,576,000,000 s) is wider than what the transcoder reads, which also refuses a
            // negative duration with a fraction of a second.
            return Parsed(Duration.Parser, value) is { Seconds: >= MinDurationSeconds and <= MaxDurationSeconds, Nanos: >= 0 };
        // FieldMask and other well-known types in a query are the transcoder's to judge; a plain message takes no string.
        return field.MessageType.File.Package == "google.protobuf" && !IsTimeType(field.MessageType);
    }

    /// <summary>A well-known type from its JSON string, as protobuf reads it (the transcoder's reading is a copy of it), or null.</summary>
    private static T? Parsed<T>(MessageParser<T> parser, string value) where T : class, IMessage<T>
    {
        try
        {
            return parser.ParseJson(JsonSerializer.Serialize(value));
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    private static bool IsTimeType(MessageDescriptor message) =>
        message.FullName == Timestamp.Descriptor.FullName || message.FullName == Duration.Descriptor.FullName;

    /// <summary>The value field of a wrapper type (Int64Value, …), whose JSON is that of the value itself.</summary>
    public static FieldDescriptor? Wrapped(FieldDescriptor field) =>
        field.FieldType == FieldType.Message && field.MessageType.File.Name == "google/protobuf/wrappers.proto"
            ? field.MessageType.FindFieldByNumber(1)
            : null;
}
