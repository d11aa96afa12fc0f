using System.Text.Json;
using Google.Protobuf.Reflection;
using GrpcBank.Server.Errors;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Judges the fields of a JSON API request against its message, in its body or, on a route without a body, in its query
/// string, naming each wrong one as sent (<c>commands[0].deposit.amountMinor</c>, <c>minPosition</c>) in a BadRequest:
/// <list type="bullet">
/// <item>a field the message does not have, as proto3's JSON mapping asks of a parser by default. The transcoder drops such
/// fields without a word: a misspelt <c>requestId</c> would run the command without its idempotency key (and a retry would
/// run it again), a misspelt <c>minPosition</c> would answer at once what may not show the caller's own write yet;</item>
/// <item>a value the transcoder cannot read into its field (<see cref="JsonFieldValues"/>), which it refuses naming no field;</item>
/// <item>a field set twice in one object (the transcoder keeps the last value, or appends both lists: a batch's commands ran
/// twice), or twice in a query string where it takes one value, or two members of one oneof.</item>
/// </list>
/// </summary>
public static class JsonRequestFields
{
    /// <summary>The violations of a JSON body whose root is an object.</summary>
    public static FieldErrors InBody(JsonElement body, MessageDescriptor input)
    {
        var errors = new FieldErrors();
        InObject(errors, body, input, "");
        return errors;
    }

    /// <summary>The violations of a query string: each parameter a path of fields (<c>a.b</c>, each by its JSON or proto name), as the transcoder binds them.</summary>
    public static FieldErrors InQuery(IQueryCollection query, string rawQuery, MessageDescriptor input)
    {
        var errors = new FieldErrors();
        var notUtf8 = JsonText.ParametersNotUtf8(rawQuery).ToHashSet(StringComparer.Ordinal);
        foreach (var (key, values) in query)
        {
            if (notUtf8.Contains(key))
                errors.Add(key, $"is {JsonText.WhyNotUtf8}");
            else if (FieldAt(key, input) is not { } field)
                errors.Add(key, $"is not a field of {input.FullName}");
            else if (!field.IsRepeated && values.Count > 1)
                errors.Add(key, "is given more than once; it takes one value");
            else if (values.Any(value => !JsonFieldValues.Reads(field, value ?? "")))
                errors.Add(key, JsonFieldValues.Form(field, inQuery: true));
        }
        return errors;
    }

    private static FieldDescriptor? FieldAt(string key, MessageDescriptor message)
    {
        var names = key.Split('.');
        for (var i = 0; ; i++)
        {
            if (Field(message, names[i]) is not { } field) return null;
            if (i == names.Length - 1) return field;
            if (field.FieldType != FieldType.Message) return null;
            message = field.MessageType;
        }
    }

    /// <summary>The field <paramref name="name"/> names, by its JSON name or its proto name, as the transcoder reads either.</summary>
    public static FieldDescriptor? Field(MessageDescriptor message, string name) =>
        message.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == name || f.Name == name);

    private static void InObject(FieldErrors errors, JsonElement json, MessageDescriptor message, string path)
    {
        var set = new Dictionary<FieldDescriptor, string>();
        var oneofs = new Dictionary<OneofDescriptor, string>();
        foreach (var property in json.EnumerateObject())
        {
            var (own, reads) = JsonText.NameOf(property);
            var name = path.Length == 0 ? own : $"{path}.{own}";
            if (!reads)
                errors.Add(name, $"is a field name {JsonText.Why}");
            else if (Field(message, own) is not { } field)
                errors.Add(name, $"is not a field of {message.FullName}");
            else if (!set.TryAdd(field, name))
                errors.Add(name, $"is set twice in one object (also as {set[field]})");
            // Proto3 JSON's "not set", for a list or map (empty) and a oneof's member too: dropped before the transcoder
            // reads the body (JsonRequestCanonicalForm), which would refuse those.
            else if (property.Value.ValueKind == JsonValueKind.Null)
                continue;
            else if (field.RealContainingOneof is { } oneof && oneofs.TryGetValue(oneof, out var other))
                errors.Add(name, $"cannot follow {other}: both belong to the oneof {oneof.Name}, which takes one value");
            else
            {
                if (field.RealContainingOneof is { } member) oneofs[member] = name;
                InField(errors, field, property.Value, name);
            }
        }
    }

    private static void InField(FieldErrors errors, FieldDescriptor field, JsonElement value, string name)
    {
        if (field.IsMap)
        {
            if (value.ValueKind != JsonValueKind.Object) errors.Add(name, "must be a JSON object (of keys and values)");
            else if (field.MessageType.FindFieldByNumber(2) is { } valueField)
                foreach (var entry in value.EnumerateObject())
                {
                    var (key, reads) = JsonText.NameOf(entry);
                    if (reads) InValue(errors, valueField, entry.Value, $"{name}[{key}]");
                    else errors.Add($"{name}[{key}]", $"is a key {JsonText.Why}");
                }
        }
        else if (field.IsRepeated)
        {
            if (value.ValueKind != JsonValueKind.Array) errors.Add(name, "must be a JSON array");
            else
                foreach (var (item, i) in value.EnumerateArray().Select((item, i) => (item, i)))
                    InValue(errors, field, item, $"{name}[{i}]");
        }
        else InValue(errors, field, value, name);
    }

    /// <summary>One value of a field: a list's item, a map's value, or a singular field's value.</summary>
    private static void InValue(FieldErrors errors, FieldDescriptor field, JsonElement value, string name)
    {
        if (value.ValueKind == JsonValueKind.Null) errors.Add(name, "must not be null in a list or map");
        else if (value.ValueKind == JsonValueKind.String && !JsonText.Reads(value)) errors.Add(name, $"is {JsonText.Why}");
        else if (JsonFieldValues.HasOwnForm(field))
        {
            if (!JsonFieldValues.Reads(field, value)) errors.Add(name, JsonFieldValues.Form(field, inQuery: false));
        }
        else if (value.ValueKind != JsonValueKind.Object) errors.Add(name, JsonFieldValues.Form(field, inQuery: false));
        else InObject(errors, value, field.MessageType, name);
    }
}
