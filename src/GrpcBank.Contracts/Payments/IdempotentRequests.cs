namespace GrpcBank.Contracts.Payments.V1;

public sealed partial class TransferMoneyRequest : IIdempotentRequest;
public sealed partial class RefundPaymentRequest : IIdempotentRequest;
