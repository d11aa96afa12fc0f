using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// A JSON API error answered before the transcoder runs (a request it would misread, no such route): a google.rpc.Status
/// as JSON with its details, under the HTTP status of its code, so that it reads as the errors the transcoder writes for
/// the RPCs themselves.
/// </summary>
public static class JsonStatus
{
    private static readonly JsonFormatter Formatter =
        new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithTypeRegistry(JsonApi.ErrorDetailTypes));

    // Compact and escaping no more than JSON must, as the transcoder writes its own errors ("+01:00", not "\u002B01:00").
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="httpStatus">Only where HTTP has a more precise word than the code's mapping (405 for a wrong method).</param>
    public static async Task WriteAsync(HttpContext context, Google.Rpc.Status status, int? httpStatus = null)
    {
        context.Response.StatusCode = httpStatus ?? HttpStatusOf((StatusCode)status.Code);
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(JsonNode.Parse(Formatter.Format(status))!.ToJsonString(Compact), context.RequestAborted);
    }

    /// <summary>The HTTP status of a gRPC code, as google/rpc/code.proto maps them and the transcoder answers.</summary>
    public static int HttpStatusOf(StatusCode code) => code switch
    {
        StatusCode.OK => StatusCodes.Status200OK,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        _ => StatusCodes.Status500InternalServerError,
    };
}
