using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using static LanguageExt.Prelude;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using static GrpcBank.Server.Errors.FieldErrors;

namespace GrpcBank.Server.Payments;

/// <summary>bank.payments.v1.PaymentService: transfers and refunds, each one atomic decision answered after its commit.</summary>
public sealed class PaymentGrpcService(Handlers handlers) : PaymentService.PaymentServiceBase
{
    public override Task<TransferMoneyResponse> TransferMoney(TransferMoneyRequest request, ServerCallContext context) =>
        Transfer(handlers, request, CallContext.For(request, context), context.CancellationToken);

    /// <summary>TransferMoney, alone or as a command of a batch (<paramref name="fieldPrefix"/> names where it sits).</summary>
    public static async Task<TransferMoneyResponse> Transfer(
        Handlers handlers, TransferMoneyRequest request, CommandContext context, CancellationToken ct, string fieldPrefix = "")
    {
        Validate(request, fieldPrefix);
        var command = CommandOf(request);
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.Transfers.HandleAsync(
            command.PaymentId, command, context, StreamReply.For<PaymentState>(command.PaymentId), ct));
        return TransferResponse(reply, position);
    }

    /// <summary>The decision's command; a request without a payment id gets a new one.</summary>
    public static TransferCommand.TransferMoney CommandOf(TransferMoneyRequest request) =>
        new(request.PaymentId.Length > 0 ? request.PaymentId : Guid.CreateVersion7().ToString("N"), request.FromAccountId, request.ToAccountId,
            request.AmountMinor, request.CurrencyCode, request.Reference);

    public static TransferMoneyResponse TransferResponse(StreamReply reply, long position) =>
        new() { PaymentId = reply.AggregateId, Version = reply.Version, Position = position };

    public static void Validate(TransferMoneyRequest request, string fieldPrefix = "")
    {
        new FieldErrors(fieldPrefix)
            .NewId("payment_id", request.PaymentId)
            .Id("from_account_id", request.FromAccountId)
            .Id("to_account_id", request.ToAccountId)
            .Amount("amount_minor", request.AmountMinor)
            .CurrencyCode("currency_code", request.CurrencyCode)
            .Text("reference", request.Reference, MaxTextLength)
            .RequestId(request.RequestId)
            .OtherAccount("to_account_id", request.ToAccountId, "from_account_id", request.FromAccountId)
            .NotAnOrdersPaymentId("payment_id", request.PaymentId)
            .ThrowIfAny();
    }

    public override async Task<RefundPaymentResponse> RefundPayment(RefundPaymentRequest request, ServerCallContext context)
    {
        new FieldErrors()
            .PaymentId("payment_id", request.PaymentId)
            .Text("reason", request.Reason, MaxTextLength)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.Transfers.HandleAsync(
            request.PaymentId, new TransferCommand.RefundPayment(request.PaymentId, request.Reason), CallContext.For(request, context),
            StreamReply.For<PaymentState>(request.PaymentId), context.CancellationToken));
        return new RefundPaymentResponse { Version = reply.Version, Position = position };
    }
}
