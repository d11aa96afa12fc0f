using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Domain.Orders;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using static GrpcBank.Server.Errors.FieldErrors;

namespace GrpcBank.Server.Orders;

/// <summary>bank.orders.v1.OrderService. Placing an order starts its payment (the payment process does the rest).</summary>
public sealed class OrderGrpcService(Handlers handlers) : OrderService.OrderServiceBase
{
    public override async Task<PlaceOrderResponse> PlaceOrder(PlaceOrderRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors()
            .Id("order_id", request.OrderId, optional: true)
            .Id("customer_account_id", request.CustomerAccountId)
            .Id("merchant_account_id", request.MerchantAccountId)
            .Amount("amount_minor", request.AmountMinor)
            .CurrencyCode("currency_code", request.CurrencyCode)
            .Text("description", request.Description, MaxTextLength)
            .RequestId(request.RequestId);
        if (request.CustomerAccountId.Length > 0 && request.CustomerAccountId == request.MerchantAccountId)
            errors.Add("merchant_account_id", "must differ from customer_account_id");
        errors.ThrowIfAny();

        var orderId = request.OrderId.Length > 0 ? request.OrderId : Guid.CreateVersion7().ToString("N");
        var command = new OrderCommand.PlaceOrder(orderId, request.CustomerAccountId, request.MerchantAccountId,
            request.AmountMinor, request.CurrencyCode, request.Description);
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.Orders.HandleAsync(
            orderId, command, CallContext.For(request, context), StreamReply.For<OrderState>(orderId), context.CancellationToken));
        return new PlaceOrderResponse
        {
            OrderId = reply.AggregateId, Version = reply.Version, Position = position, PaymentId = Order.PaymentIdOf(reply.AggregateId),
        };
    }

    public override async Task<CancelOrderResponse> CancelOrder(CancelOrderRequest request, ServerCallContext context)
    {
        new FieldErrors()
            .Id("order_id", request.OrderId)
            .Text("reason", request.Reason, MaxTextLength)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.Orders.HandleAsync(
            request.OrderId, new OrderCommand.CancelOrder(request.OrderId, request.Reason), CallContext.For(request, context),
            StreamReply.For<OrderState>(request.OrderId), context.CancellationToken));
        return new CancelOrderResponse { Version = reply.Version, Position = position };
    }
}
