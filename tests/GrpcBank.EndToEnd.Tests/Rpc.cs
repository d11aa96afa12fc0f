using Google.Rpc;
using Grpc.Core;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Assertions on gRPC failures as PROTOCOL.md defines them.</summary>
public static class Rpc
{
    public static async Task<RpcException> Fails(StatusCode code, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(code == e.StatusCode, $"expected {code}, got {e.StatusCode}: {e.Status.Detail}");
        return e;
    }

    /// <summary>A read that cannot be fresh enough fails (UNAVAILABLE, or DEADLINE_EXCEEDED if the client's clock wins); it never answers stale.</summary>
    public static async Task NotYetFresh(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Contains(e.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });
    }

    /// <summary>FAILED_PRECONDITION (or the given code) with ErrorInfo{domain: grpcbank, reason}.</summary>
    public static async Task<ErrorInfo> Rejected(string reason, Func<Task> call, StatusCode code = StatusCode.FailedPrecondition)
    {
        var e = await Fails(code, call);
        var info = e.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal("grpcbank", info.Domain);
        Assert.Equal(reason, info.Reason);
        return info;
    }

    /// <summary>INVALID_ARGUMENT with a BadRequest naming exactly these fields.</summary>
    public static async Task Invalid(Func<Task> call, params string[] fields)
    {
        var e = await Fails(StatusCode.InvalidArgument, call);
        var badRequest = e.GetRpcStatus()?.GetDetail<BadRequest>();
        Assert.NotNull(badRequest);
        Assert.Equal(fields.Order(), badRequest.FieldViolations.Select(v => v.Field).Distinct().Order());
    }

    /// <summary>INVALID_ARGUMENT naming <paramref name="field"/> alone, for the domain rule <paramref name="reason"/>: on its field violation and its ErrorInfo.</summary>
    public static async Task InvalidFor(string reason, string field, Func<Task> call)
    {
        var status = (await Fails(StatusCode.InvalidArgument, call)).GetRpcStatus()!;
        var violation = Assert.Single(status.GetDetail<BadRequest>().FieldViolations);
        Assert.Equal((field, reason), (violation.Field, violation.Reason));
        Assert.Equal(("grpcbank", reason), (status.GetDetail<ErrorInfo>().Domain, status.GetDetail<ErrorInfo>().Reason));
    }

    /// <summary>
    /// Whether a call was refused FAILED_PRECONDITION for <paramref name="reason"/>: for the refusals a concurrent spec expects
    /// and counts, so that one for any other reason fails the spec instead of being counted with them.
    /// </summary>
    public static bool IsRefusedFor(this RpcException e, string reason) =>
        e.StatusCode == StatusCode.FailedPrecondition && e.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason == reason;

    public static string NewId() => Guid.NewGuid().ToString("N");
}
