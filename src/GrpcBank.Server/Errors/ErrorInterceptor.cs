using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http.Features;

namespace GrpcBank.Server.Errors;

/// <summary>
/// The safety net at the edge: whatever escapes a service becomes a deliberate status, never UNKNOWN. Transient
/// infrastructure failures are UNAVAILABLE (safe to retry); anything else is a fault of the bank's own: INTERNAL, with an
/// error id that the log line carries, so the one report a client can give leads to the stack trace.
/// </summary>
public sealed class ErrorInterceptor(ILogger<ErrorInterceptor> logger, TransientFaultLog transientFaults) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (RpcException e) when (IsServerError(e.StatusCode))
        {
            CountAsServerError(context, e.StatusCode);
            throw;
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Answered(e, context);
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
        catch (RpcException e) when (IsServerError(e.StatusCode))
        {
            CountAsServerError(context, e.StatusCode);
            throw;
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Answered(e, context);
        }
    }

    /// <summary>
    /// The status an unexpected exception is answered with, its request counted as a server error where it is one. A
    /// deliberate status (a rejection, a refusal) is not caught at all unless it is a server error: rejections are a
    /// command's everyday answer, and catching each to throw it again would only cost.
    /// </summary>
    private RpcException Answered(Exception e, ServerCallContext context)
    {
        var error = Translate(e, context, logger, transientFaults.Admit);
        if (IsServerError(error.StatusCode)) CountAsServerError(context, error.StatusCode);
        return error;
    }

    private static void CountAsServerError(ServerCallContext context, StatusCode code) =>
        context.GetHttpContext().Features.Get<IHttpMetricsTagsFeature>()?.Tags.Add(new(ErrorTypeTag, ErrorTypeOf(code)));

    /// <summary>
    /// A gRPC call ends with HTTP 200 whatever its status, so ASP.NET Core's request metrics would count a fault of the
    /// server as a success, and the dashboard's and alerts' server-error share (deploy/) would never see one. The calls
    /// whose status is the server's failure (INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE: 500 and 503 over HTTP) are tagged
    /// <c>error.type</c> (Prometheus <c>error_type</c>) with the status, as OpenTelemetry's RPC conventions name it; a
    /// caller's own mistake, a rejection, a cancellation or a deadline is not the server's failure.
    /// </summary>
    private static bool IsServerError(StatusCode code) =>
        code is StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss or StatusCode.Unavailable;

    private const string ErrorTypeTag = "error.type";

    /// <summary>The status as gRPC spells it (<c>INTERNAL</c>, <c>DATA_LOSS</c>).</summary>
    private static string ErrorTypeOf(StatusCode code) => code switch
    {
        StatusCode.DataLoss => "DATA_LOSS",
        _ => code.ToString().ToUpperInvariant(),
    };

    /// <summary>
    /// What escaped a call (or one command of a batch, <see cref="Batch.BatchGrpcService"/>) as a deliberate status,
    /// logged as the edge logs it.
    /// </summary>
    /// <param name="admitTransient">
    /// Asked before a transient fault is logged (<see cref="TransientFaultLog.Admit"/>): null leaves it unlogged, else it
    /// gives how many went unlogged before it. A batch admits only its first (its commands fail alike in an outage:
    /// 8,192 warnings, each with its stack trace, for one call) and counts the rest.
    /// </param>
    public static RpcException Translate(Exception e, ServerCallContext context, ILogger logger, Func<int?> admitTransient)
    {
        if (e is OperationCanceledException && context.CancellationToken.IsCancellationRequested)
            return context.Deadline <= DateTime.UtcNow
                ? new RpcException(new Status(StatusCode.DeadlineExceeded, "the deadline passed before the bank answered; retry with the same request_id to learn the outcome"))
                : new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
        if (TransientFailures.IsTransient(e))
        {
            if (admitTransient() is { } unlogged)
                logger.LogWarning(e, "{Method} failed on a transient infrastructure fault; answered UNAVAILABLE (calls that failed so since the last such warning, unlogged: {Unlogged})",
                    context.Method, unlogged);
            return new RpcException(new Status(StatusCode.Unavailable, "the bank could not complete the call; it is safe to retry with the same request_id"));
        }
        return Internal(e, context.Method, logger);
    }

    /// <summary>A bug: INTERNAL with an error id, logged with the exception under that id.</summary>
    public static RpcException Internal(Exception e, string method, ILogger logger)
    {
        var errorId = Guid.NewGuid().ToString("N")[..16];
        logger.LogError(e, "{Method} failed with error id {ErrorId}", method, errorId);
        return ErrorMapper.Error(Google.Rpc.Code.Internal, InternalReason,
            $"the bank failed on this call (error id {errorId}); report the id, and do not retry until it is fixed", ("error_id", errorId));
    }

    /// <summary>The ErrorInfo reason of an INTERNAL answer; its metadata carries <c>error_id</c>.</summary>
    public const string InternalReason = "INTERNAL_ERROR";
}
