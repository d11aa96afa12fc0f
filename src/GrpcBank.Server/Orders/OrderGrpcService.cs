using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using GrpcBank.Server.Accounts;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using static GrpcBank.Server.Errors.FieldErrors;

namespace GrpcBank.Server.Orders;

/// <summary>
/// bank.orders.v1.OrderService. Placing an order holds its amount on the customer's account (AUTHORIZED, or CANCELLED
/// with the account's reason); fulfilling captures the hold and pays the merchant; cancelling releases it. Each is one
/// atomic decision over the order and its accounts (<see cref="OrderFunds"/>); the time is the server's clock.
/// </summary>
public sealed class OrderGrpcService(Handlers handlers, TimeProvider clock) : OrderService.OrderServiceBase
{
    /// <summary>How long an order's authorisation lasts when the request does not say.</summary>
    public static readonly TimeSpan DefaultAuthorizationTtl = TimeSpan.FromDays(7);

    public override async Task<PlaceOrderResponse> PlaceOrder(PlaceOrderRequest request, ServerCallContext context)
    {
        var now = clock.GetUtcNow();
        var errors = new FieldErrors()
            .NewId("order_id", request.OrderId)
            .Id("customer_account_id", request.CustomerAccountId)
            .Id("merchant_account_id", request.MerchantAccountId)
            .Amount("amount_minor", request.AmountMinor)
            .CurrencyCode("currency_code", request.CurrencyCode)
            .Text("description", request.Description, MaxTextLength)
            .RequestId(request.RequestId)
            .OtherAccount("merchant_account_id", request.MerchantAccountId, "customer_account_id", request.CustomerAccountId);
        var expiresAt = AuthorizationExpiryOf(request, now, errors);
        errors.ThrowIfAny();

        var orderId = request.OrderId.Length > 0 ? request.OrderId : Guid.CreateVersion7().ToString("N");
        var command = new OrderFundsCommand.PlaceOrder(
            new OrderCommand.PlaceOrder(orderId, request.CustomerAccountId, request.MerchantAccountId, request.AmountMinor, request.CurrencyCode,
                request.Description),
            expiresAt, now);
        // A retry with the same request_id gets the first run's reply (its expiry included) from the request log; one
        // logged before expiries were kept to the microsecond is shown as ListHolds shows its hold.
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.OrderFunds.HandleAsync(
            orderId, command, CallContext.For(request, context), PlacedOrderReply.For(orderId, expiresAt), context.CancellationToken));
        return new PlaceOrderResponse
        {
            OrderId = reply.AggregateId, Version = reply.Version, Position = position, PaymentId = Order.PaymentIdOf(reply.AggregateId),
            Authorized = reply.Authorized, CancellationReason = reply.CancellationReason, HoldId = reply.HoldId,
            AuthorizationExpiresAt = reply.Authorized ? Timestamp.FromDateTimeOffset(HoldExpiryPrecision.Of(reply.ExpiresAt)) : null,
        };
    }

    /// <summary>When the authorisation expires: after the request's ttl, within the rule every hold has, or the default's.</summary>
    private static DateTimeOffset AuthorizationExpiryOf(PlaceOrderRequest request, DateTimeOffset now, FieldErrors errors) =>
        request.AuthorizationTtl is null ? HoldExpiryPrecision.Of(now + DefaultAuthorizationTtl)
        : errors.Duration("authorization_ttl", request.AuthorizationTtl) is { } ttl ? errors.HoldExpiryAfter("authorization_ttl", ttl, now)
        : now;

    public override async Task<FulfillOrderResponse> FulfillOrder(FulfillOrderRequest request, ServerCallContext context)
    {
        new FieldErrors()
            .Id("order_id", request.OrderId)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.OrderFunds.HandleAsync(
            request.OrderId, new OrderFundsCommand.FulfillOrder(request.OrderId, clock.GetUtcNow()), CallContext.For(request, context),
            StreamReply.For<OrderState>(request.OrderId), context.CancellationToken));
        return new FulfillOrderResponse { Version = reply.Version, Position = position, PaymentId = Order.PaymentIdOf(request.OrderId) };
    }

    public override async Task<CancelOrderResponse> CancelOrder(CancelOrderRequest request, ServerCallContext context)
    {
        new FieldErrors()
            .Id("order_id", request.OrderId)
            .Text("reason", request.Reason, MaxTextLength)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.OrderFunds.HandleAsync(
            request.OrderId, new OrderFundsCommand.CancelOrder(request.OrderId, request.Reason), CallContext.For(request, context),
            StreamReply.For<OrderState>(request.OrderId), context.CancellationToken));
        return new CancelOrderResponse { Version = reply.Version, Position = position };
    }
}

/// <summary>
/// The reply to PlaceOrder, stored in the request log (its property names are a storage format): whether the amount is
/// held, or why not. The defaults are how a reply logged before holds reads back (the saga release logged only the id
/// and version; orders then held nothing): not authorized, no reason, no hold, no expiry. Without them the missing
/// strings read back as null, which the response cannot carry: the retry failed with INTERNAL.
/// </summary>
public sealed record PlacedOrderReply(
    string AggregateId, long Version, bool Authorized = false, string CancellationReason = "", string HoldId = "", DateTimeOffset ExpiresAt = default)
{
    public static ReplyWith<OrderState, PlacedOrderReply> For(string orderId, DateTimeOffset expiresAt) => (s, version) =>
        new(orderId, version, s.Status == OrderStatus.Authorized, s.CancellationReason, s.HoldId, expiresAt);
}
