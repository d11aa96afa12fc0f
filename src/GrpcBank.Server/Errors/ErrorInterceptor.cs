using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GrpcBank.Server.Errors;

/// <summary>
/// The safety net at the edge: whatever escapes a service becomes a deliberate status, never UNKNOWN.
/// Infrastructure failures are UNAVAILABLE (retryable) and logged with their cause.
/// </summary>
public sealed class ErrorInterceptor(ILogger<ErrorInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Translate(e, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Translate(e, context);
        }
    }

    private RpcException Translate(Exception e, ServerCallContext context)
    {
        if (e is OperationCanceledException && context.CancellationToken.IsCancellationRequested)
            return context.Deadline <= DateTime.UtcNow
                ? new RpcException(new Status(StatusCode.DeadlineExceeded, "the deadline passed before the bank answered; retry with the same request_id to learn the outcome"))
                : new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
        logger.LogError(e, "{Method} failed", context.Method);
        return new RpcException(new Status(StatusCode.Unavailable, "the bank could not complete the call; it is safe to retry with the same request_id"));
    }
}
