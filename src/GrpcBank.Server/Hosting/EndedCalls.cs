using Grpc.Core;

namespace GrpcBank.Server.Hosting;

/// <summary>Tells a streaming handler's write that failed because its call ended at the caller's side from a fault of its own.</summary>
public static class EndedCalls
{
    /// <summary>
    /// A write or wait that failed because the call was cancelled by its caller or passed its deadline. grpc-dotnet ends
    /// a call past its deadline first and fires its token a moment later: a write meanwhile throws an
    /// <see cref="InvalidOperationException"/> ("the request is complete", "writing is not allowed after writer was
    /// completed"), which is the caller's deadline, not a bug of the server's.
    /// </summary>
    public static bool IsEndOf(Exception e, ServerCallContext context) =>
        e is OperationCanceledException or InvalidOperationException
        && (context.CancellationToken.IsCancellationRequested || context.Deadline <= DateTime.UtcNow);
}
