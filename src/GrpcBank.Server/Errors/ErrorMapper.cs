using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Domain;

namespace GrpcBank.Server.Errors;

/// <summary>The one place where outcomes become gRPC statuses (PROTOCOL.md, "Errors").</summary>
public static class ErrorMapper
{
    public const string Domain = "grpcbank";

    /// <summary>An accepted command (its reply and position); anything else becomes the matching RpcException.</summary>
    public static CommandOutcome<TReply>.Accepted AcceptedOrThrow<TReply>(CommandOutcome<TReply> outcome) => outcome switch
    {
        CommandOutcome<TReply>.Accepted a => a,
        CommandOutcome<TReply>.Rejected r => throw ToRpcException(r.Rejection),
        CommandOutcome<TReply>.WrongExpectedVersion w => throw Error(Code.Aborted, "WRONG_EXPECTED_VERSION",
            $"expected version {w.ExpectedVersion}, but the stream is at version {w.ActualVersion}",
            ("expected_version", w.ExpectedVersion.ToString()), ("actual_version", w.ActualVersion.ToString())),
        CommandOutcome<TReply>.RequestIdReused u => throw Error(Code.FailedPrecondition, "REQUEST_ID_REUSED", u.AlreadyDone
            ? $"request_id '{u.RequestId}' was already done by an earlier call, and other commands of this atomic batch were not: " +
              "send a whole batch again, or only new commands"
            : $"request_id '{u.RequestId}' was already used for a different request"),
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    public static RpcException ToRpcException(Rejection rejection)
    {
        var wire = WireRejection.Of(rejection);
        return wire.Field is { } field
            ? new FieldErrors().Add(field, wire.Message, wire.Reason).ToRpcException()!
            : Error(wire.Code, wire.Reason, wire.Message, wire.Metadata);
    }

    /// <summary>The public reason of a rejection (PROTOCOL.md), also recorded as the failure reason of a payment step.</summary>
    public static string Reason(Rejection rejection) => WireRejection.Of(rejection).Reason;

    /// <summary>
    /// A position the event store has not reached: no wait can reach it, so OUT_OF_RANGE at once, naming the head
    /// (reason <c>MIN_POSITION_BEYOND_HEAD</c>, <c>FROM_POSITION_BEYOND_HEAD</c>, after the field).
    /// </summary>
    public static RpcException BeyondHead(string field, long position, long head)
    {
        var message = $"{field} {position} is beyond the newest event, at position {head}; use a position the bank returned";
        var status = Status(Code.OutOfRange, $"{field.ToUpperInvariant()}_BEYOND_HEAD", message, ("head_position", head.ToString()));
        status.Details.Add(Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = message } } }));
        return status.ToRpcException();
    }

    public static RpcException Error(Code code, string reason, string message, params (string Key, string Value)[] metadata) =>
        Status(code, reason, message, metadata).ToRpcException();

    /// <summary>
    /// A long call (a live subscription, a rebuild) ended because the server is stopping: UNAVAILABLE, reason
    /// SERVER_STOPPING, so the caller asks again, of another server or of this one once it is back; <paramref name="whatNext"/>
    /// says how.
    /// </summary>
    public static RpcException ServerStopping(string whatNext) =>
        Error(Code.Unavailable, "SERVER_STOPPING", $"the server is stopping; {whatNext}");

    /// <summary>The rich status an RpcException carries (its details), or one of its code and message when it has none.</summary>
    public static Google.Rpc.Status StatusOf(RpcException e) =>
        e.GetRpcStatus() ?? new Google.Rpc.Status { Code = (int)e.StatusCode, Message = e.Status.Detail };

    /// <summary>A status with an ErrorInfo of the bank's domain: its reason and metadata.</summary>
    public static Google.Rpc.Status Status(Code code, string reason, string message, params (string Key, string Value)[] metadata)
    {
        var info = new ErrorInfo { Domain = Domain, Reason = reason };
        foreach (var (key, value) in metadata) info.Metadata[key] = value;
        return new Google.Rpc.Status { Code = (int)code, Message = message, Details = { Any.Pack(info) } };
    }
}
