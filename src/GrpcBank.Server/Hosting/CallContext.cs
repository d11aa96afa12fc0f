using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Contracts;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Builds the command context of a call. A request's fingerprint hashes the method and the request
/// without its request_id, so a retry matches and a different request under the same id does not.
/// </summary>
public static class CallContext
{
    /// <param name="method">The RPC the request belongs to, when it came inside another call (a batch): a command sent
    /// alone or in a batch is then the same request.</param>
    public static CommandContext For<TRequest>(TRequest request, ServerCallContext call, string? method = null)
        where TRequest : IMessage<TRequest>, IIdempotentRequest =>
        For(request, PrincipalOf(call), method ?? call.Method);

    /// <summary>The context of a request inside another call, whose principal was read once (a batch's commands run at once, and a call's HttpContext is not for concurrent use).</summary>
    public static CommandContext For<TRequest>(TRequest request, string? principal, string method)
        where TRequest : IMessage<TRequest>, IIdempotentRequest
    {
        if (request.RequestId.Length == 0) return new CommandContext(Principal: principal);
        var withoutId = request.Clone();
        withoutId.RequestId = "";
        var hash = SHA256.HashData([.. System.Text.Encoding.UTF8.GetBytes(method), .. withoutId.ToByteArray()]);
        return new CommandContext(request.RequestId, Convert.ToHexString(hash), Principal: principal);
    }

    /// <summary>Who made the call (null: nobody authenticated).</summary>
    public static string? PrincipalOf(ServerCallContext call) => call.GetHttpContext().User.Identity?.Name;
}
