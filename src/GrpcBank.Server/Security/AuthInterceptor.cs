using System.Threading.RateLimiting;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GrpcBank.Server.Security;

/// <summary>
/// Authenticates each call (<see cref="Authenticator"/>) and holds it to its rate: per key, or per peer address for
/// calls without a key; over the rate: RESOURCE_EXHAUSTED. Health checks are never limited: one client probing in a
/// loop must not starve everyone else's probes. The caller's name becomes the principal recorded in event metadata.
/// </summary>
public sealed class AuthInterceptor(Authenticator authenticator, RateLimits limits) : Interceptor
{
    private const string HealthService = "grpc.health.v1.Health";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        using var lease = Admit(context);
        return continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var lease = Admit(context);
        await continuation(request, responseStream, context);
    }

    // Every kind of call is admitted the same way, the streaming ones from the client included: server reflection is a
    // bidirectional stream (held to its peer's rate like every call without a key), and a bank RPC that streams from the
    // client would otherwise be served without its key being looked at.
    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var lease = Admit(context);
        return await continuation(requestStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var lease = Admit(context);
        await continuation(requestStream, responseStream, context);
    }

    private RateLimitLease? Admit(ServerCallContext context)
    {
        var parts = context.Method.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var service = parts[0];
        if (service == HealthService) return null;
        var http = context.GetHttpContext();
        var caller = authenticator.Authenticate(http, service, parts.Length > 1 ? parts[1] : null) ?? $"peer {Authenticator.Peer(http)}";
        return limits.TryAdmit(caller)
            ?? throw new RpcException(new Status(StatusCode.ResourceExhausted, $"too many requests for '{caller}'; slow down and retry"));
    }
}
