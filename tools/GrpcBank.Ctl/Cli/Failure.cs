using System.Net.Sockets;
using System.Text;
using Google.Rpc;
using Grpc.Core;

namespace GrpcBank.Ctl.Cli;

/// <summary>A failed call in plain words: what the server said (status, ErrorInfo reason, field violations) or why it could not be reached.</summary>
public sealed record Failure(int ExitCode, string Message)
{
    public static Failure Describe(RpcException e, Uri server)
    {
        if (IsUnreachable(e))
            return new(Cli.ExitCode.Unreachable, $"""
                bankctl: cannot reach a GrpcBank server at {server} ({Innermost(e.Status.DebugException)?.Message ?? e.Status.Detail}).
                Start one with:  dotnet run --project src/GrpcBank.Server -- --urls {server.GetLeftPart(UriPartial.Authority)}
                or point bankctl at a running one with --server URL (or GRPCBANK_SERVER).
                """);

        var text = new StringBuilder($"{RefusedLead}: {Name(e.StatusCode)}");
        if (e.Status.Detail is { Length: > 0 } detail) text.Append($": {detail}");
        var status = e.GetRpcStatus();
        if (status?.GetDetail<ErrorInfo>() is { } info)
        {
            text.Append($"\n  reason: {info.Reason}{(info.Domain is { Length: > 0 } domain ? $" ({domain})" : "")}");
            foreach (var (key, value) in info.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) text.Append($"\n  {key}: {value}");
        }
        if (status?.GetDetail<BadRequest>() is { } badRequest)
            foreach (var violation in badRequest.FieldViolations) text.Append($"\n  field {violation.Field}: {violation.Description}");
        if (Hint(e.StatusCode, server) is { } hint) text.Append($"\n{hint}");
        return new(Cli.ExitCode.Refused, text.ToString());
    }

    /// <summary>How a status from the server is introduced.</summary>
    public const string RefusedLead = "bankctl: the server refused the request";

    /// <summary>
    /// Connection refused, no such host, TLS or HTTP/2 failures (e.g. an HTTP/1-only server): the client's transport failed,
    /// so no GrpcBank server answered at all. A status the server sent carries no such exception.
    /// </summary>
    private static bool IsUnreachable(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.Internal && e.Status.DebugException is HttpRequestException or SocketException or IOException;

    private static Exception? Innermost(Exception? e)
    {
        while (e?.InnerException is not null) e = e.InnerException;
        return e;
    }

    private static string? Hint(StatusCode code, Uri server) => code switch
    {
        StatusCode.Unauthenticated => "The server wants an API key: pass --api-key KEY or set GRPCBANK_API_KEY.",
        StatusCode.PermissionDenied => "This API key's role may not make this call; use a key with the right role (teller, auditor or admin).",
        StatusCode.Unimplemented => $"The server at {server} does not implement this RPC (projections and deadletters need bank.admin.v1.ProjectionService): " +
            "it runs an older GrpcBank than this bankctl.",
        StatusCode.DeadlineExceeded => "No answer within the deadline; try a larger --timeout.",
        StatusCode.ResourceExhausted => "Too many calls with this key; wait a moment and try again.",
        _ => null,
    };

    /// <summary>The status as the protocol spells it: INVALID_ARGUMENT, FAILED_PRECONDITION, …</summary>
    public static string Name(StatusCode code) => code == StatusCode.OK
        ? "OK"
        : string.Concat(code.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? $"_{c}" : char.ToUpperInvariant(c).ToString()));
}
