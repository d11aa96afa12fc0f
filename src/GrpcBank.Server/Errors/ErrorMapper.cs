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
        CommandOutcome<TReply>.RequestIdReused u => throw Error(Code.FailedPrecondition, "REQUEST_ID_REUSED",
            $"request_id '{u.RequestId}' was already used for a different request"),
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    public static RpcException ToRpcException(Rejection rejection) => rejection switch
    {
        Rejection.AccountNotFound r => Error(Code.NotFound, r.Reason, $"account '{r.AccountId}' does not exist"),
        Rejection.AccountAlreadyExists r => Error(Code.AlreadyExists, r.Reason, $"account '{r.AccountId}' already exists"),
        Rejection.InvalidAmount r => Invalid("amount_minor", $"must be between 1 and {Money.MaxAmountMinor} minor units, was {r.AmountMinor}"),
        Rejection.CurrencyMismatch r => Error(Code.FailedPrecondition, r.Reason,
            $"the account holds {r.AccountCurrency}, not {r.RequestedCurrency}", ("account_currency", r.AccountCurrency)),
        Rejection.InsufficientFunds r => Error(Code.FailedPrecondition, r.Reason,
            $"balance {r.BalanceMinor} is less than {r.RequestedMinor}", ("balance_minor", r.BalanceMinor.ToString())),
        Rejection.BalanceLimitExceeded r => Error(Code.FailedPrecondition, r.Reason,
            $"a balance above {Money.MaxBalanceMinor} minor units is not allowed"),
        Rejection.AccountFrozen r => Error(Code.FailedPrecondition, r.Reason, $"account '{r.AccountId}' is frozen"),
        Rejection.AccountClosed r => Error(Code.FailedPrecondition, r.Reason, $"account '{r.AccountId}' is closed"),
        Rejection.BalanceNotZero r => Error(Code.FailedPrecondition, r.Reason,
            $"the balance must be zero to close the account, it is {r.BalanceMinor}", ("balance_minor", r.BalanceMinor.ToString())),
        Rejection.OrderNotFound r => Error(Code.NotFound, r.Reason, $"order '{r.OrderId}' does not exist"),
        Rejection.OrderAlreadyExists r => Error(Code.AlreadyExists, r.Reason, $"order '{r.OrderId}' already exists"),
        Rejection.OrderNotCancellable r => Error(Code.FailedPrecondition, r.Reason, $"order '{r.OrderId}' is {r.Status.ToLowerInvariant()}"),
        Rejection.OrderNotPayable r => Error(Code.FailedPrecondition, r.Reason, $"order '{r.OrderId}' is {r.Status.ToLowerInvariant()}"),
        Rejection.SameAccount r => Error(Code.FailedPrecondition, r.Reason, $"money cannot move from account '{r.AccountId}' to itself"),
        Rejection.PaymentMismatch r => Error(Code.FailedPrecondition, r.Reason, $"order '{r.OrderId}' is not paid by payment '{r.PaymentId}'"),
        Rejection.PaymentNotFound r => Error(Code.NotFound, r.Reason, $"payment '{r.PaymentId}' does not exist"),
        Rejection.PaymentAlreadyExists r => Error(Code.AlreadyExists, r.Reason, $"payment '{r.PaymentId}' already exists"),
        Rejection.PaymentNotRefundable r => Error(Code.FailedPrecondition, r.Reason,
            $"only a completed payment can be refunded; payment '{r.PaymentId}' is {r.Status.ToLowerInvariant()}"),
        _ => Error(Code.FailedPrecondition, rejection.Reason, rejection.Reason),
    };

    public static RpcException Error(Code code, string reason, string message, params (string Key, string Value)[] metadata)
    {
        var info = new ErrorInfo { Domain = Domain, Reason = reason };
        foreach (var (key, value) in metadata) info.Metadata[key] = value;
        return new Google.Rpc.Status { Code = (int)code, Message = message, Details = { Any.Pack(info) } }.ToRpcException();
    }

    private static RpcException Invalid(string field, string description) =>
        new FieldErrors().Add(field, description).ToRpcException()!;
}
