using System.Threading.RateLimiting;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GrpcBank.Server.Security;

/// <summary>
/// Admits each call (<see cref="Authenticator.Admit"/>: its key and role, and its caller's rate, health checks excepted).
/// The caller's name becomes the principal recorded in event metadata.
/// </summary>
public sealed class AuthInterceptor(Authenticator authenticator) : Interceptor
{
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
        var (service, method) = Authenticator.Route(context.Method);
        return authenticator.Admit(context.GetHttpContext(), service, method);
    }
}
