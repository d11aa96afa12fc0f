using System.Text.Json;
using Google.Protobuf.Reflection;
using Grpc.Core;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Security;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Judges a JSON API request before the transcoder reads it, as <see cref="RequestDecoding"/> judges a gRPC one, for the
/// transcoder refuses what it cannot read naming nothing: a body that is not one JSON object is INVALID_ARGUMENT with the
/// ErrorInfo gRPC gives an undecodable message (MALFORMED_REQUEST), a body or query string with a wrong field is
/// INVALID_ARGUMENT with a BadRequest naming each (<see cref="JsonRequestFields"/>). A caller the services would refuse
/// (no valid key, a wrong role) hears that instead, so a broken request tells nothing before authentication.
/// </summary>
public sealed class JsonRequestDecoding(Authenticator authenticator)
{
    /// <summary>Judges a transcoded call; true when it was refused (the response is written).</summary>
    public async Task<bool> RefusedAsync(HttpContext context, GrpcJsonTranscodingMetadata route)
    {
        var method = route.MethodDescriptor;
        var refusal = route.HttpRule.Body switch
        {
            "*" => await JudgeBodyAsync(context.Request, method.InputType, context.RequestAborted),
            "" => JsonRequestFields.InQuery(context.Request.Query, method.InputType).ToStatus(),
            _ => null, // a body that is one field of the request: no route of the bank has one
        };
        if (refusal is null) return false;
        try
        {
            authenticator.Authenticate(context, method.Service.FullName, method.Name);
        }
        catch (RpcException e)
        {
            refusal = new Google.Rpc.Status { Code = (int)e.StatusCode, Message = e.Status.Detail };
        }
        await JsonStatus.WriteAsync(context, refusal);
        return true;
    }

    /// <summary>Why the body is refused, or null; the transcoder then reads the same bytes again.</summary>
    private static async Task<Google.Rpc.Status?> JudgeBodyAsync(HttpRequest request, MessageDescriptor input, CancellationToken ct)
    {
        var body = new MemoryStream();
        await request.Body.CopyToAsync(body, ct);
        body.Position = 0;
        request.Body = body;
        if (body.Length == 0) return RequestDecoding.Malformed(input, "the body is empty; send a JSON object ({} sets no field)").ToStatus();
        try
        {
            using var json = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
            return json.RootElement.ValueKind == JsonValueKind.Object
                ? JsonRequestFields.InBody(json.RootElement, input).ToStatus()
                : RequestDecoding.Malformed(input, $"the body is a JSON {json.RootElement.ValueKind.ToString().ToLowerInvariant()}, not an object").ToStatus();
        }
        catch (JsonException e)
        {
            return RequestDecoding.Malformed(input, $"the body is not JSON: {e.Message}").ToStatus();
        }
    }
}
