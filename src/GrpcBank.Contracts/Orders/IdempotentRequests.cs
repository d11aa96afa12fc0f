namespace GrpcBank.Contracts.Orders.V1;

public sealed partial class PlaceOrderRequest : IIdempotentRequest;
public sealed partial class CancelOrderRequest : IIdempotentRequest;
public sealed partial class FulfillOrderRequest : IIdempotentRequest;
