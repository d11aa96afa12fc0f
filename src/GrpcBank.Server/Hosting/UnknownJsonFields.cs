using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using GrpcBank.Server.Errors;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Refuses a JSON API request that names a field its message does not have, in its body or, on a route without a body,
/// in its query string (INVALID_ARGUMENT, google.rpc.BadRequest naming it as sent, e.g. <c>commands[0].deposit.requestID</c>
/// or <c>minPositon</c>), as proto3's JSON mapping asks of a parser by default. The transcoder drops such fields without a
/// word: a misspelt <c>requestId</c> would run the command without its idempotency key (and a retry would run it again),
/// a misspelt <c>minPosition</c> would answer at once what may not show the caller's own write yet.
/// </summary>
public static class UnknownJsonFields
{
    private static readonly JsonFormatter Formatter =
        new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithTypeRegistry(JsonApi.ErrorDetailTypes));

    /// <summary>Checks a transcoded call's body, or its query string when it takes no body; true when it was refused (the response is written).</summary>
    public static async Task<bool> RefusedAsync(HttpContext context, GrpcJsonTranscodingMetadata route)
    {
        var input = route.MethodDescriptor.InputType;
        var unknown = route.HttpRule.Body == "*"
            ? await UnknownInBodyAsync(context.Request, input, context.RequestAborted)
            : context.Request.Query.Keys.Where(key => !IsFieldPath(key, input)).Select(key => ((string Path, string Message)?)(key, input.FullName)).FirstOrDefault();
        if (unknown is not { } field) return false;

        var status = new FieldErrors().Add(field.Path, $"is not a field of {field.Message}").ToStatus()!;
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json; charset=utf-8";
        // Compact, as the transcoder writes its own errors.
        await context.Response.WriteAsync(JsonNode.Parse(Formatter.Format(status))!.ToJsonString(), context.RequestAborted);
        return true;
    }

    private static async Task<(string Path, string Message)?> UnknownInBodyAsync(HttpRequest request, MessageDescriptor input, CancellationToken ct)
    {
        if (request.ContentLength == 0) return null;
        request.EnableBuffering();
        try
        {
            using var body = await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
            return FirstUnknown(body.RootElement, input, "");
        }
        catch (JsonException)
        {
            return null; // not JSON at all: the transcoder refuses it in its own words
        }
        finally
        {
            request.Body.Position = 0;
        }
    }

    /// <summary>Whether a query parameter's name is a path of fields (<c>a.b</c>, each by its JSON or proto name), as the transcoder binds them.</summary>
    private static bool IsFieldPath(string key, MessageDescriptor message)
    {
        var names = key.Split('.');
        for (var i = 0; i < names.Length; i++)
        {
            if (Field(message, names[i]) is not { } field) return false;
            if (i == names.Length - 1) return true;
            if (field.FieldType != FieldType.Message) return false;
            message = field.MessageType;
        }
        return false;
    }

    private static FieldDescriptor? Field(MessageDescriptor message, string name) =>
        message.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == name || f.Name == name);

    /// <summary>
    /// The path of the first property in <paramref name="json"/> that its message has no field for (by the field's JSON or
    /// proto name), with that message's name; or null.
    /// </summary>
    private static (string Path, string Message)? FirstUnknown(JsonElement json, MessageDescriptor message, string path)
    {
        // The well-known types have JSON forms of their own (a Timestamp is a string, a Struct any object).
        if (json.ValueKind != JsonValueKind.Object || message.File.Package == "google.protobuf") return null;
        foreach (var property in json.EnumerateObject())
        {
            var name = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
            var field = Field(message, property.Name);
            if (field is null) return (name, message.FullName);
            if (field.FieldType != FieldType.Message || property.Value.ValueKind == JsonValueKind.Null) continue;
            var unknown = field switch
            {
                { IsMap: true } => field.MessageType.FindFieldByNumber(2) is { FieldType: FieldType.Message } value && property.Value.ValueKind == JsonValueKind.Object
                    ? property.Value.EnumerateObject().Select(entry => FirstUnknown(entry.Value, value.MessageType, $"{name}[{entry.Name}]")).FirstOrDefault(u => u is not null)
                    : null,
                { IsRepeated: true } => property.Value.ValueKind != JsonValueKind.Array ? null : property.Value.EnumerateArray()
                    .Select((item, i) => FirstUnknown(item, field.MessageType, $"{name}[{i}]"))
                    .FirstOrDefault(u => u is not null),
                _ => FirstUnknown(property.Value, field.MessageType, name),
            };
            if (unknown is not null) return unknown;
        }
        return null;
    }
}
