namespace GrpcBank.Contracts.Accounts.V1;

public sealed partial class OpenAccountRequest : IIdempotentRequest;
public sealed partial class DepositMoneyRequest : IIdempotentRequest;
public sealed partial class WithdrawMoneyRequest : IIdempotentRequest;
public sealed partial class FreezeAccountRequest : IIdempotentRequest;
public sealed partial class UnfreezeAccountRequest : IIdempotentRequest;
public sealed partial class CloseAccountRequest : IIdempotentRequest;
public sealed partial class PlaceHoldRequest : IIdempotentRequest;
public sealed partial class CaptureHoldRequest : IIdempotentRequest;
public sealed partial class ReleaseHoldRequest : IIdempotentRequest;
public sealed partial class SetOverdraftLimitRequest : IIdempotentRequest;
public sealed partial class RestrictAccountRequest : IIdempotentRequest;
public sealed partial class LiftRestrictionRequest : IIdempotentRequest;
