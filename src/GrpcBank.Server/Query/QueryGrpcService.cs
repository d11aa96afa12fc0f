using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Application.ReadSide;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Errors;

namespace GrpcBank.Server.Query;

/// <summary>bank.query.v1.QueryService: answers from the read side, after waiting for min_position.</summary>
public sealed class QueryGrpcService(IReadStore readStore, ReadSideWaiter waiter) : QueryService.QueryServiceBase
{
    /// <summary>How long a call without a deadline may wait for the read side to catch up.</summary>
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan DeadlineMargin = TimeSpan.FromMilliseconds(50);

    public override async Task<GetAccountResponse> GetAccount(GetAccountRequest request, ServerCallContext context)
    {
        new FieldErrors().Id("account_id", request.AccountId).NotNegative("min_position", request.MinPosition).ThrowIfAny();
        var position = await WaitFor(request.MinPosition, context);
        var view = await readStore.GetAccountAsync(request.AccountId, context.CancellationToken)
            ?? throw ErrorMapper.Error(Google.Rpc.Code.NotFound,
                "ACCOUNT_NOT_FOUND", $"account '{request.AccountId}' does not exist");
        return new GetAccountResponse { Account = ToProto(view), Position = position };
    }

    public override async Task<GetOrderResponse> GetOrder(GetOrderRequest request, ServerCallContext context)
    {
        new FieldErrors().Id("order_id", request.OrderId).NotNegative("min_position", request.MinPosition).ThrowIfAny();
        var position = await WaitFor(request.MinPosition, context);
        var view = await readStore.GetOrderAsync(request.OrderId, context.CancellationToken)
            ?? throw ErrorMapper.Error(Google.Rpc.Code.NotFound, "ORDER_NOT_FOUND", $"order '{request.OrderId}' does not exist");
        return new GetOrderResponse { Order = ToProto(view), Position = position };
    }

    public override async Task<GetPaymentResponse> GetPayment(GetPaymentRequest request, ServerCallContext context)
    {
        new FieldErrors().PaymentId("payment_id", request.PaymentId).NotNegative("min_position", request.MinPosition).ThrowIfAny();
        var position = await WaitFor(request.MinPosition, context);
        var view = await readStore.GetPaymentAsync(request.PaymentId, context.CancellationToken)
            ?? throw ErrorMapper.Error(Google.Rpc.Code.NotFound, "PAYMENT_NOT_FOUND", $"payment '{request.PaymentId}' does not exist");
        return new GetPaymentResponse { Payment = ToProto(view), Position = position };
    }

    private async Task<long> WaitFor(long minPosition, ServerCallContext context)
    {
        // Give up a little before the caller's deadline, so it hears why (UNAVAILABLE) rather than a bare timeout.
        var wait = context.Deadline == DateTime.MaxValue ? DefaultWait : context.Deadline - DateTime.UtcNow - DeadlineMargin;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        limit.CancelAfter(wait < TimeSpan.Zero ? TimeSpan.Zero : wait < DefaultWait ? wait : DefaultWait);
        return await waiter.WaitForAsync(minPosition, limit.Token)
            ?? throw ErrorMapper.Error(Google.Rpc.Code.Unavailable, "READ_SIDE_BEHIND",
                $"the read side has not reached position {minPosition} yet; retry later");
    }

    private static Account ToProto(AccountView v) => new()
    {
        AccountId = v.AccountId,
        OwnerName = v.OwnerName,
        CurrencyCode = v.CurrencyCode,
        BalanceMinor = v.BalanceMinor,
        Status = v.Status switch
        {
            AccountViewStatus.Active => AccountStatus.Active,
            AccountViewStatus.Frozen => AccountStatus.Frozen,
            AccountViewStatus.Closed => AccountStatus.Closed,
            _ => AccountStatus.Unspecified,
        },
        Version = v.Version,
        OpenedAt = Timestamp.FromDateTimeOffset(v.OpenedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(v.UpdatedAt),
    };

    private static Order ToProto(OrderView v) => new()
    {
        OrderId = v.OrderId,
        CustomerAccountId = v.CustomerAccountId,
        MerchantAccountId = v.MerchantAccountId,
        AmountMinor = v.AmountMinor,
        CurrencyCode = v.CurrencyCode,
        Description = v.Description,
        Status = v.Status switch
        {
            OrderViewStatus.Placed => OrderStatus.Placed,
            OrderViewStatus.Paid => OrderStatus.Paid,
            OrderViewStatus.Cancelled => OrderStatus.Cancelled,
            _ => OrderStatus.Unspecified,
        },
        PaymentId = v.PaymentId,
        CancellationReason = v.CancellationReason,
        PlacedAt = Timestamp.FromDateTimeOffset(v.PlacedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(v.UpdatedAt),
        Version = v.Version,
    };

    private static Payment ToProto(PaymentView v) => new()
    {
        PaymentId = v.PaymentId,
        OrderId = v.OrderId,
        FromAccountId = v.FromAccountId,
        ToAccountId = v.ToAccountId,
        AmountMinor = v.AmountMinor,
        CurrencyCode = v.CurrencyCode,
        Status = v.Status switch
        {
            PaymentViewStatus.Initiated => PaymentStatus.Initiated,
            PaymentViewStatus.Completed => PaymentStatus.Completed,
            PaymentViewStatus.Failed => PaymentStatus.Failed,
            PaymentViewStatus.Refunded => PaymentStatus.Refunded,
            _ => PaymentStatus.Unspecified,
        },
        FailureReason = v.FailureReason,
        CreatedAt = Timestamp.FromDateTimeOffset(v.CreatedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(v.UpdatedAt),
        Version = v.Version,
    };
}
