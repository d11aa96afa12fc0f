using System.Text.Json;
using Google.Protobuf.Reflection;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Security;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.Net.Http.Headers;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Judges a JSON API request before the transcoder reads it, as <see cref="RequestDecoding"/> judges a gRPC one, for the
/// transcoder refuses what it cannot read naming nothing: a body that is not one JSON object is INVALID_ARGUMENT with the
/// ErrorInfo gRPC gives an undecodable message (MALFORMED_REQUEST), a body or query string with a wrong field is
/// INVALID_ARGUMENT with a BadRequest naming each (<see cref="JsonRequestFields"/>). A caller the services would refuse
/// (no valid key, a wrong role) hears that instead, so a broken request tells nothing before authentication. A body over
/// its method's JSON limit (<see cref="MaxBodyBytes"/>) is RESOURCE_EXHAUSTED before it is parsed, or read past the limit.
/// </summary>
public sealed class JsonRequestDecoding(Authenticator authenticator, ILogger<JsonRequestDecoding> logger)
{
    /// <summary>
    /// A JSON body may be this many times its method's protobuf limit (<see cref="RequestDecoding.MaxBytesOf"/>): 2 MiB,
    /// the batch's 16 MiB. The same request is larger in JSON (field names, int64 in quotes): an everyday deposit of
    /// ~95 bytes of protobuf is ~180 of JSON, and a command filled to every field's limit ~1.1 times its protobuf, so
    /// what gRPC takes fits, unless its text is sent escaped (<c>é</c> is 6 bytes where UTF-8 takes 2). Both stay
    /// under Kestrel's own cap on a body (30,000,000 bytes), which answers with an empty 413.
    /// </summary>
    public const int JsonBytesPerProtobufByte = 2;

    public static int MaxBodyBytes(MethodDescriptor method) => JsonBytesPerProtobufByte * RequestDecoding.MaxBytesOf(method);

    /// <summary>
    /// Judges a transcoded call; true when it was refused (the response is written). A fault of the judging itself is a
    /// bug: INTERNAL with an error id, as the services answer one, not an empty 500. A body Kestrel finds malformed
    /// (BadHttpRequestException) keeps Kestrel's own answer.
    /// </summary>
    public async Task<bool> RefusedAsync(HttpContext context, GrpcJsonTranscodingMetadata route)
    {
        try
        {
            return await JudgeAsync(context, route);
        }
        catch (Exception e) when (e is not BadHttpRequestException && !context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            var method = $"/{route.MethodDescriptor.Service.FullName}/{route.MethodDescriptor.Name}";
            await JsonStatus.WriteAsync(context, ErrorMapper.StatusOf(ErrorInterceptor.Internal(e, method, logger)));
            return true;
        }
    }

    private async Task<bool> JudgeAsync(HttpContext context, GrpcJsonTranscodingMetadata route)
    {
        var method = route.MethodDescriptor;
        // No body is read for a caller without a valid key (Authenticator.AuthenticationRefusalOf).
        if (authenticator.AuthenticationRefusalOf(context, method.Service.FullName, method.Name) is { } refused)
        {
            await JsonStatus.WriteAsync(context, refused);
            return true;
        }
        var refusal = route.HttpRule.Body switch
        {
            "*" => await JudgeBodyAsync(context.Request, method, context.RequestAborted),
            "" => JsonRequestFields.InQuery(context.Request.Query, context.Request.QueryString.Value ?? "", method.InputType).ToStatus(),
            _ => null, // a body that is one field of the request: no route of the bank has one
        };
        if (refusal is null) return false;
        await JsonStatus.WriteAsync(context, authenticator.RefusalOf(context, method.Service.FullName, method.Name) ?? refusal);
        return true;
    }

    /// <summary>Why the body is refused, or null; the transcoder then reads it in its canonical form (<see cref="JsonRequestCanonicalForm"/>).</summary>
    private static async Task<Google.Rpc.Status?> JudgeBodyAsync(HttpRequest request, MethodDescriptor method, CancellationToken ct)
    {
        var (input, limit) = (method.InputType, MaxBodyBytes(method));
        // JSON between systems is UTF-8 (RFC 8259, 8.1), which is how the body is judged and rewritten; the transcoder
        // would decode it by its label instead, and answer a mislabelled one in that charset, naming nothing.
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.Charset.HasValue
            && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !type.Charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
            return RequestDecoding.Malformed(input, $"the body is labelled charset {type.Charset}; JSON is taken in UTF-8 only (charset=utf-8, or none)").ToStatus();
        if (request.ContentLength > limit)
            return RequestDecoding.TooLarge("the JSON body", limit, $"the body declares {request.ContentLength} bytes").ToStatus();
        var body = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, ct)) > 0)
        {
            body.Write(buffer, 0, read);
            if (body.Length > limit)
                return RequestDecoding.TooLarge("the JSON body", limit, $"the body runs past {limit} bytes").ToStatus();
        }
        if (body.Length == 0) return RequestDecoding.Malformed(input, "the body is empty; send a JSON object ({} sets no field)").ToStatus();
        try
        {
            using var json = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                return RequestDecoding.Malformed(input, $"the body is a JSON {json.RootElement.ValueKind.ToString().ToLowerInvariant()}, not an object").ToStatus();
            if (JsonRequestFields.InBody(json.RootElement, input).ToStatus() is { } refusal) return refusal;
            var canonical = JsonRequestCanonicalForm.Of(json.RootElement, input);
            (request.Body, request.ContentLength) = (new MemoryStream(canonical), canonical.Length);
            return null;
        }
        catch (JsonException e)
        {
            return RequestDecoding.Malformed(input, $"the body is not JSON: {e.Message}").ToStatus();
        }
    }
}
