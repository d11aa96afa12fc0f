using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Rpc;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Refuses a JSON API request whose body names a field its message does not have (INVALID_ARGUMENT, google.rpc.BadRequest
/// naming it as sent, e.g. <c>commands[0].deposit.requestID</c>), as proto3's JSON mapping asks of a parser by default.
/// The transcoder drops such fields without a word, so a misspelt <c>requestId</c> would run the command without its
/// idempotency key and a retry would run it again.
/// </summary>
public static class UnknownJsonFields
{
    private static readonly JsonFormatter Formatter =
        new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithTypeRegistry(TypeRegistry.FromFiles(ErrorDetailsReflection.Descriptor)));

    /// <summary>Checks the body of a transcoded call that takes one; true when it was refused (the response is written).</summary>
    public static async Task<bool> RefusedAsync(HttpContext context, GrpcJsonTranscodingMetadata route)
    {
        if (route.HttpRule.Body != "*" || context.Request.ContentLength == 0) return false;
        context.Request.EnableBuffering();
        (string Path, string Message)? unknown;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            unknown = FirstUnknown(body.RootElement, route.MethodDescriptor.InputType, "");
        }
        catch (JsonException)
        {
            unknown = null; // not JSON at all: the transcoder refuses it in its own words
        }
        context.Request.Body.Position = 0;
        if (unknown is not { } field) return false;

        var status = new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = $"invalid {field.Path}",
            Details =
            {
                Google.Protobuf.WellKnownTypes.Any.Pack(new BadRequest
                {
                    FieldViolations = { new BadRequest.Types.FieldViolation { Field = field.Path, Description = $"is not a field of {field.Message}" } },
                }),
            },
        };
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json; charset=utf-8";
        // Compact, as the transcoder writes its own errors.
        await context.Response.WriteAsync(JsonNode.Parse(Formatter.Format(status))!.ToJsonString(), context.RequestAborted);
        return true;
    }

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
            var field = message.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == property.Name || f.Name == property.Name);
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
