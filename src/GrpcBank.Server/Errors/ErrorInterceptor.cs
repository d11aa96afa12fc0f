using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GrpcBank.Server.Errors;

/// <summary>
/// The safety net at the edge: whatever escapes a service becomes a deliberate status, never UNKNOWN. Transient
/// infrastructure failures are UNAVAILABLE (safe to retry); anything else is a fault of the bank's own: INTERNAL, with an
/// error id that the log line carries, so the one report a client can give leads to the stack trace.
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
            throw Translate(e, context, logger);
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
            throw Translate(e, context, logger);
        }
    }

    /// <summary>
    /// What escaped a call (or one command of a batch, <see cref="Batch.BatchGrpcService"/>) as a deliberate status,
    /// logged as the edge logs it.
    /// </summary>
    public static RpcException Translate(Exception e, ServerCallContext context, ILogger logger)
    {
        if (e is OperationCanceledException && context.CancellationToken.IsCancellationRequested)
            return context.Deadline <= DateTime.UtcNow
                ? new RpcException(new Status(StatusCode.DeadlineExceeded, "the deadline passed before the bank answered; retry with the same request_id to learn the outcome"))
                : new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
        if (TransientFailures.IsTransient(e))
        {
            logger.LogWarning(e, "{Method} failed on a transient infrastructure fault; answered UNAVAILABLE", context.Method);
            return new RpcException(new Status(StatusCode.Unavailable, "the bank could not complete the call; it is safe to retry with the same request_id"));
        }
        var errorId = Guid.NewGuid().ToString("N")[..16];
        logger.LogError(e, "{Method} failed with error id {ErrorId}", context.Method, errorId);
        return ErrorMapper.Error(Google.Rpc.Code.Internal, InternalReason,
            $"the bank failed on this call (error id {errorId}); report the id, and do not retry until it is fixed", ("error_id", errorId));
    }

    /// <summary>The ErrorInfo reason of an INTERNAL answer; its metadata carries <c>error_id</c>.</summary>
    public const string InternalReason = "INTERNAL_ERROR";
}
