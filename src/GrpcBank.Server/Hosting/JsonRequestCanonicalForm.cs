using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// A body <see cref="JsonRequestFields"/> found nothing wrong with, written again in the forms the transcoder reads, for
/// it reads proto3 JSON narrower than the spec asks of a parser: an integer only as its digits (<c>1e3</c>, <c>"1e3"</c>
/// and <c>700.0</c> refused, an int32 or an enum's number refused in a string), a float only as a JSON number or a name
/// (<c>"1.5"</c> refused), and null refused for a list, a map, or a oneof's member after the one set. So every integer is
/// written as its digits (an int64 in a string, as the transcoder writes it), a float as a number, and a null — "not set",
/// which a field's absence says too — is left out. Everything else is written as it came.
/// </summary>
internal static class JsonRequestCanonicalForm
{
    public static byte[] Of(JsonElement body, MessageDescriptor input)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer)) WriteObject(writer, body, input);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteObject(Utf8JsonWriter writer, JsonElement json, MessageDescriptor message)
    {
        writer.WriteStartObject();
        foreach (var property in json.EnumerateObject())
        {
            var field = JsonRequestFields.Field(message, property.Name)!; // judged: every name is a field's
            // google.protobuf.Value is the one type whose null is a value (NullValue), not "not set".
            if (property.Value.ValueKind == JsonValueKind.Null && !IsValue(field)) continue;
            writer.WritePropertyName(property.Name);
            WriteField(writer, field, property.Value);
        }
        writer.WriteEndObject();
    }

    private static bool IsValue(FieldDescriptor field) =>
        field.FieldType == FieldType.Message && field.MessageType.FullName == Value.Descriptor.FullName;

    private static void WriteField(Utf8JsonWriter writer, FieldDescriptor field, JsonElement value)
    {
        if (field.IsMap)
        {
            writer.WriteStartObject();
            foreach (var entry in value.EnumerateObject())
            {
                writer.WritePropertyName(entry.Name);
                WriteValue(writer, field.MessageType.FindFieldByNumber(2), entry.Value);
            }
            writer.WriteEndObject();
        }
        else if (field.IsRepeated)
        {
            writer.WriteStartArray();
            foreach (var item in value.EnumerateArray()) WriteValue(writer, field, item);
            writer.WriteEndArray();
        }
        else WriteValue(writer, field, value);
    }

    private static void WriteValue(Utf8JsonWriter writer, FieldDescriptor field, JsonElement value)
    {
        var own = JsonFieldValues.Wrapped(field) ?? field;
        if (value.ValueKind is not (JsonValueKind.Number or JsonValueKind.String))
        {
            if (value.ValueKind == JsonValueKind.Object && !JsonFieldValues.HasOwnForm(field)) WriteObject(writer, value, field.MessageType);
            else value.WriteTo(writer);
        }
        else if (JsonFieldValues.RangeOf(own) is not null || own.FieldType == FieldType.Enum && value.ValueKind == JsonValueKind.Number)
        {
            var digits = JsonNumbers.Integer(value)!.Value.ToString(CultureInfo.InvariantCulture);
            if (own.FieldType is FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 or FieldType.UInt64 or FieldType.Fixed64)
                writer.WriteStringValue(digits);
            else writer.WriteRawValue(digits, skipInputValidation: true);
        }
        else if (own.FieldType is FieldType.Double or FieldType.Float && JsonNumbers.Real(value) is { } real && double.IsFinite(real))
            writer.WriteNumberValue(real);
        else value.WriteTo(writer);
    }
}
