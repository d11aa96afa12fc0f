using System.Buffers.Binary;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;

namespace GrpcBank.Server.Errors;

/// <summary>
/// Answers INVALID_ARGUMENT for request bytes that are not the method's message (not protobuf, or a string field that
/// is not UTF-8). grpc-dotnet decodes the request before any interceptor runs and would answer such bytes with UNKNOWN;
/// this middleware decodes it first, against the method's descriptor, and only passes well-formed requests on.
/// </summary>
public sealed class RequestDecoding(RequestDelegate next)
{
    private const int MaxMessageBytes = 1024 * 1024;

    private static readonly Dictionary<string, MessageDescriptor> RequestTypes = new[]
    {
        Contracts.Accounts.V1.AccountServiceReflection.Descriptor,
        Contracts.Orders.V1.OrderServiceReflection.Descriptor,
        Contracts.Payments.V1.PaymentServiceReflection.Descriptor,
        Contracts.Query.V1.QueryServiceReflection.Descriptor,
        Contracts.History.V1.HistoryServiceReflection.Descriptor,
        Contracts.Admin.V1.ProjectionServiceReflection.Descriptor,
    }
    .SelectMany(file => file.Services)
    .SelectMany(service => service.Methods.Where(m => !m.IsClientStreaming).Select(m => ($"/{service.FullName}/{m.Name}", m.InputType)))
    .ToDictionary(m => m.Item1, m => m.InputType);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!RequestTypes.TryGetValue(context.Request.Path.Value ?? "", out var type)
            || context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true
            || context.Request.ContentLength > MaxMessageBytes + 5)
        {
            await next(context);
            return;
        }

        context.Request.EnableBuffering(MaxMessageBytes + 5);
        var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            body.Write(buffer, 0, read);
            // Oversized: leave it to grpc-dotnet, which answers RESOURCE_EXHAUSTED.
            if (body.Length > MaxMessageBytes + 5) break;
        }
        context.Request.Body.Position = 0;

        if (Problem(body.GetBuffer().AsSpan(0, (int)body.Length), type) is { } problem)
        {
            Refuse(context, type, problem);
            return;
        }
        await next(context);
    }

    /// <summary>Why the gRPC frame does not hold a <paramref name="type"/>, or null when it does (or cannot be judged here).</summary>
    private static string? Problem(ReadOnlySpan<byte> frame, MessageDescriptor type)
    {
        if (frame.Length > MaxMessageBytes + 5 || frame.Length < 5 || frame[0] != 0) return null; // oversized, truncated or compressed: grpc-dotnet's call
        var length = BinaryPrimitives.ReadUInt32BigEndian(frame[1..5]);
        if (length != frame.Length - 5) return null;
        try
        {
            type.Parser.ParseFrom(frame[5..]);
            return null;
        }
        catch (InvalidProtocolBufferException e)
        {
            return e.Message;
        }
    }

    private static void Refuse(HttpContext context, MessageDescriptor type, string problem)
    {
        var status = new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = $"the request is not a valid {type.FullName}",
            Details = { Any.Pack(new ErrorInfo { Domain = ErrorMapper.Domain, Reason = "MALFORMED_REQUEST", Metadata = { ["problem"] = problem } }) },
        };
        // A trailers-only gRPC response: the status travels in the headers and the stream ends without a body.
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)Code.InvalidArgument).ToString();
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(status.Message);
        context.Response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray()).TrimEnd('=');
    }
}
