namespace GrpcBank.Contracts.Accounts.V1;

public sealed partial class OpenAccountRequest : IIdempotentRequest;
public sealed partial class DepositMoneyRequest : IIdempotentRequest;
public sealed partial class WithdrawMoneyRequest : IIdempotentRequest;
public sealed partial class FreezeAccountRequest : IIdempotentRequest;
public sealed partial class UnfreezeAccountRequest : IIdempotentRequest;
public sealed partial class CloseAccountRequest : IIdempotentRequest;
