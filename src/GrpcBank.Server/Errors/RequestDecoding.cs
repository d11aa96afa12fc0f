using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Rpc;
using GrpcBank.Server.Security;

namespace GrpcBank.Server.Errors;

/// <summary>
/// Judges the request body of every bank RPC before grpc-dotnet does, which would answer a broken one with UNKNOWN or
/// INTERNAL: a missing, cut-short or doubled message, a compressed flag without a compression, gzip that does not
/// inflate, or bytes that are not the method's message (not protobuf, or a string field that is not UTF-8) are
/// INVALID_ARGUMENT; a message over its method's size limit is RESOURCE_EXHAUSTED. A caller the services would refuse (no valid
/// key, a wrong role, too many failed attempts) hears that instead, so a broken body tells nothing before authentication. Well-formed requests pass on.
/// </summary>
public sealed class RequestDecoding(RequestDelegate next, Authenticator authenticator)
{
    /// <summary>The largest request message of every RPC but the batch's (<see cref="Batch.BatchGrpcService.MaxRequestBytes"/>).</summary>
    public const int MaxMessageBytes = 1024 * 1024;
    private const int HeaderBytes = 5;

    private sealed record RequestType(MessageDescriptor Message, int MaxBytes);

    private static readonly Dictionary<string, RequestType> RequestTypes = new[]
    {
        (Contracts.Accounts.V1.AccountServiceReflection.Descriptor, MaxMessageBytes),
        (Contracts.Orders.V1.OrderServiceReflection.Descriptor, MaxMessageBytes),
        (Contracts.Payments.V1.PaymentServiceReflection.Descriptor, MaxMessageBytes),
        (Contracts.Query.V1.QueryServiceReflection.Descriptor, MaxMessageBytes),
        (Contracts.History.V1.HistoryServiceReflection.Descriptor, MaxMessageBytes),
        (Contracts.Admin.V1.ProjectionServiceReflection.Descriptor, MaxMessageBytes),
        (Contracts.Batch.V1.BatchServiceReflection.Descriptor, Batch.BatchGrpcService.MaxRequestBytes),
    }
    .SelectMany(file => file.Item1.Services.Select(service => (Service: service, MaxBytes: file.Item2)))
    .SelectMany(s => s.Service.Methods.Where(m => !m.IsClientStreaming)
        .Select(m => (Path: $"/{s.Service.FullName}/{m.Name}", Type: new RequestType(m.InputType, s.MaxBytes))))
    .ToDictionary(m => m.Path, m => m.Type);

    /// <summary>The largest request message of <paramref name="method"/>, in bytes of protobuf.</summary>
    public static int MaxBytesOf(MethodDescriptor method) =>
        RequestTypes.TryGetValue($"/{method.Service.FullName}/{method.Name}", out var request) ? request.MaxBytes : MaxMessageBytes;

    /// <summary>Why a request is refused: its status, with an ErrorInfo whose <c>problem</c> says what is wrong with it.</summary>
    internal sealed record Refusal(Code Code, string Reason, string Message, string Problem)
    {
        public Google.Rpc.Status ToStatus() => ErrorMapper.Status(Code, Reason, Message, ("problem", Problem));
    }

    public async Task InvokeAsync(HttpContext context)
    {
        if (!RequestTypes.TryGetValue(context.Request.Path.Value ?? "", out var request)
            || context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) != true)
        {
            await next(context);
            return;
        }

        // The caller is authenticated as the services would (key, role, failed-attempt throttle) before its body is read,
        // and admitted to its rate before it hears anything about its body.
        var (service, method) = Authenticator.Route(context.Request.Path.Value!);
        if (authenticator.AuthenticationRefusalOf(context, service, method) is { } refused)
        {
            Answer(context, refused);
            return;
        }
        var (frame, length) = await ReadFrameAsync(context.Request.Body, request.MaxBytes, context.RequestAborted);
        if (Judge(frame.AsSpan(0, length), context.Request.Headers["grpc-encoding"].ToString(), request) is { } refusal)
        {
            Answer(context, authenticator.RefusalOf(context, service, method) ?? refusal.ToStatus());
            return;
        }
        // grpc-dotnet reads the same bytes again.
        context.Request.Body = new MemoryStream(frame, 0, length, writable: false);
        await next(context);
    }

    /// <summary>
    /// The 5-byte frame header and the message it announces, plus one byte more if the body has it (a second message).
    /// A declared length over the limit is not read: the header alone condemns it.
    /// </summary>
    private static async Task<(byte[] Frame, int Length)> ReadFrameAsync(Stream body, int maxBytes, CancellationToken ct)
    {
        var header = new byte[HeaderBytes];
        var read = await body.ReadAtLeastAsync(header, HeaderBytes, throwOnEndOfStream: false, ct);
        if (read < HeaderBytes || BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1)) is var declared && declared > maxBytes)
            return (header, read);
        var frame = new byte[HeaderBytes + declared + 1];
        header.CopyTo(frame, 0);
        read += await body.ReadAtLeastAsync(frame.AsMemory(HeaderBytes), frame.Length - HeaderBytes, throwOnEndOfStream: false, ct);
        return (frame, read);
    }

    /// <summary>Why the body is not one well-formed message of <paramref name="request"/>'s type, or null when it is (or cannot be judged here).</summary>
    private static Refusal? Judge(ReadOnlySpan<byte> frame, string encoding, RequestType request)
    {
        var type = request.Message;
        if (frame.Length == 0) return Malformed(type, "the request carries no message; a call takes exactly one");
        if (frame.Length < HeaderBytes) return Malformed(type, $"the request ends after {frame.Length} of the 5 bytes of a gRPC frame header");
        if (frame[0] > 1) return Malformed(type, $"unknown gRPC frame flags 0x{frame[0]:x2}");
        var declared = BinaryPrimitives.ReadUInt32BigEndian(frame[1..HeaderBytes]);
        if (declared > request.MaxBytes) return TooLarge(request, $"the frame declares {declared} bytes");
        var carried = frame.Length - HeaderBytes;
        if (carried < declared) return Malformed(type, $"the frame declares {declared} bytes but the request ends after {carried}");
        if (carried > declared) return Malformed(type, "the request carries more than one message; a call takes exactly one");

        var message = frame[HeaderBytes..].ToArray();
        if (frame[0] == 1)
        {
            if (encoding is "" or "identity") return Malformed(type, "the message is flagged as compressed, but grpc-encoding names no compression");
            // Other encodings are grpc-dotnet's to refuse (UNIMPLEMENTED, naming the ones it accepts).
            if (encoding != "gzip") return null;
            switch (Gunzip(message, request.MaxBytes))
            {
                case null:
                    return TooLarge(request, "it inflates beyond the limit");
                case { Error: { } error }:
                    return Malformed(type, $"the message is not valid gzip: {error}");
                case { Inflated: { } inflated }:
                    message = inflated;
                    break;
            }
        }
        try
        {
            type.Parser.ParseFrom(message);
            return null;
        }
        catch (InvalidProtocolBufferException e)
        {
            return Malformed(type, e.Message);
        }
    }

    /// <summary>The inflated bytes, or why they are not gzip; null when they inflate beyond the limit.</summary>
    private static (byte[]? Inflated, string? Error)? Gunzip(byte[] compressed, int maxBytes)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            var inflated = new MemoryStream();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = gzip.Read(buffer)) > 0)
            {
                inflated.Write(buffer, 0, read);
                if (inflated.Length > maxBytes) return null;
            }
            return (inflated.ToArray(), null);
        }
        catch (InvalidDataException e)
        {
            return (null, e.Message);
        }
    }

    private static Refusal TooLarge(RequestType request, string problem) => TooLarge("the request message", request.MaxBytes, problem);

    internal static Refusal TooLarge(string what, int maxBytes, string problem) =>
        new(Code.ResourceExhausted, "MESSAGE_TOO_LARGE", $"{what} is larger than {maxBytes} bytes", problem);

    internal static Refusal Malformed(MessageDescriptor type, string problem) =>
        new(Code.InvalidArgument, "MALFORMED_REQUEST", $"the request is not a valid {type.FullName}", problem);

    /// <summary>A trailers-only gRPC response: the status travels in the headers and the stream ends without a body.</summary>
    private static void Answer(HttpContext context, Google.Rpc.Status status)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = status.Code.ToString();
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(status.Message);
        context.Response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray()).TrimEnd('=');
    }
}
