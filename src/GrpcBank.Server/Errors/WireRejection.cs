using System.Diagnostics;
using Google.Rpc;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Server.Errors;

/// <summary>
/// How a rejection looks to a client: its status, its public UPPER_SNAKE_CASE reason (PROTOCOL.md; never renamed)
/// and a message. A rejection of malformed input names its proto <see cref="Field"/> and is INVALID_ARGUMENT;
/// it still has a reason, recorded when a payment step is refused for it.
/// </summary>
public sealed record WireRejection(Code Code, string Reason, string Message, string? Field = null, params (string Key, string Value)[] Metadata)
{
    // C# cannot prove these switches exhaustive; ExhaustivenessSpecs prove every rejection has its row.
    public static WireRejection Of(Rejection rejection) => rejection switch
    {
        MoneyRejection r => Money(r),
        AccountRejection r => Account(r),
        OrderRejection r => Order(r),
        PaymentRejection r => Payment(r),
        _ => throw Unmapped(rejection),
    };

    private static WireRejection Money(MoneyRejection rejection) => rejection switch
    {
        MoneyRejection.InvalidAmount r => Invalid("INVALID_AMOUNT", "amount_minor",
            $"must be between 1 and {Domain.Money.MaxAmountMinor} minor units, was {r.AmountMinor}"),
        MoneyRejection.UnknownCurrency r => Invalid("UNKNOWN_CURRENCY", "currency_code",
            $"must be an ISO 4217 currency code in upper case, e.g. EUR, was '{r.CurrencyCode}'"),
        MoneyRejection.SameAccount r => Failed("SAME_ACCOUNT", $"money cannot move from account '{r.AccountId}' to itself"),
        _ => throw Unmapped(rejection),
    };

    private static WireRejection Account(AccountRejection rejection) => rejection switch
    {
        AccountRejection.AccountNotFound r => new(Code.NotFound, "ACCOUNT_NOT_FOUND", $"account '{r.AccountId}' does not exist", null, Named(r.AccountId)),
        AccountRejection.AccountAlreadyExists r => new(Code.AlreadyExists, "ACCOUNT_ALREADY_EXISTS", $"account '{r.AccountId}' already exists", null,
            Named(r.AccountId)),
        AccountRejection.OwnerNameRequired => Invalid("OWNER_NAME_REQUIRED", "owner_name", "is required"),
        AccountRejection.CurrencyMismatch r => Failed("CURRENCY_MISMATCH",
            $"account '{r.AccountId}' holds {r.AccountCurrency}, not {r.RequestedCurrency}", Named(r.AccountId),
            ("account_currency", r.AccountCurrency)),
        AccountRejection.InsufficientFunds r => Failed("INSUFFICIENT_FUNDS",
            $"account '{r.AccountId}': the available balance {r.AvailableMinor} plus the overdraft limit {r.OverdraftLimitMinor} is less than {r.RequestedMinor}",
            Named(r.AccountId), ("balance_minor", r.BalanceMinor.ToString()), ("available_minor", r.AvailableMinor.ToString()),
            ("overdraft_limit_minor", r.OverdraftLimitMinor.ToString())),
        AccountRejection.BalanceLimitExceeded r => Failed("BALANCE_LIMIT_EXCEEDED",
            $"account '{r.AccountId}' may not hold a balance above {Domain.Money.MaxBalanceMinor} minor units", Named(r.AccountId)),
        AccountRejection.AccountFrozen r => Failed("ACCOUNT_FROZEN", $"account '{r.AccountId}' is frozen", Named(r.AccountId)),
        AccountRejection.AccountClosed r => Failed("ACCOUNT_CLOSED", $"account '{r.AccountId}' is closed", Named(r.AccountId)),
        AccountRejection.BalanceNotZero r => Failed("BALANCE_NOT_ZERO",
            $"the balance must be zero to close the account, it is {r.BalanceMinor}", ("balance_minor", r.BalanceMinor.ToString())),
        AccountRejection.AccountHasHolds r => Failed("ACCOUNT_HAS_HOLDS",
            $"account '{r.AccountId}' holds {r.HeldMinor} for active holds; capture or release them before closing", Named(r.AccountId),
            ("held_minor", r.HeldMinor.ToString())),
        AccountRejection.DebitsBlocked r => Failed("DEBITS_BLOCKED", $"debits on account '{r.AccountId}' are blocked: {r.Reason}", Named(r.AccountId)),
        AccountRejection.CreditsBlocked r => Failed("CREDITS_BLOCKED", $"credits to account '{r.AccountId}' are blocked: {r.Reason}", Named(r.AccountId)),
        AccountRejection.HoldNotFound r => new(Code.NotFound, "HOLD_NOT_FOUND", $"account '{r.AccountId}' has no hold '{r.HoldId}'", null,
            Named(r.AccountId)),
        AccountRejection.HoldNotActive r => Failed("HOLD_NOT_ACTIVE", $"hold '{r.HoldId}' is {Lower(r.Status)}", ("hold_status", Lower(r.Status))),
        AccountRejection.HoldIdReserved r => Invalid("HOLD_ID_RESERVED", "hold_id",
            $"'{r.HoldId}' is an order's hold (ids starting with '{OrderHoldIds.Prefix}' are reserved): only its order moves it"),
        AccountRejection.HoldAlreadyExists r => new(Code.AlreadyExists, "HOLD_ALREADY_EXISTS",
            $"account '{r.AccountId}' already has a different hold '{r.HoldId}'", null, Named(r.AccountId)),
        AccountRejection.CaptureExceedsHold r => Failed("CAPTURE_EXCEEDS_HOLD",
            $"hold '{r.HoldId}' holds {r.HeldMinor}, less than {r.RequestedMinor}", ("held_minor", r.HeldMinor.ToString())),
        AccountRejection.HoldExpiryNotInFuture r => Invalid("HOLD_EXPIRY_NOT_IN_FUTURE", "expires_at",
            $"must be later than now ({r.PlacedAt:O}), was {r.ExpiresAt:O}"),
        AccountRejection.HoldExpiryTooFar r => Invalid("HOLD_EXPIRY_TOO_FAR", "expires_at",
            $"must be at most {Domain.Accounts.Account.MaxHoldLifetime.TotalDays} days after now ({r.PlacedAt:O}), was {r.ExpiresAt:O}"),
        AccountRejection.InvalidOverdraftLimit r => Invalid("INVALID_OVERDRAFT_LIMIT", "limit_minor",
            $"must be between 0 and {Domain.Money.MaxAmountMinor} minor units, was {r.LimitMinor}"),
        AccountRejection.OverdraftInUse r => Failed("OVERDRAFT_IN_USE",
            $"the available balance is {r.AvailableMinor}, below minus the new limit {r.LimitMinor}", ("available_minor", r.AvailableMinor.ToString())),
        AccountRejection.RestrictionBlocksNothing => Invalid("RESTRICTION_BLOCKS_NOTHING", "block_debits",
            "block_debits or block_credits (or both) must be true"),
        AccountRejection.RestrictionWouldLoosen r => Failed("RESTRICTION_WOULD_LOOSEN",
            $"account '{r.AccountId}' has {Blocked(r.DebitsAreBlocked, r.CreditsAreBlocked)} blocked; a restriction may only add to that " +
            "(send both flags to keep both blocked); LiftRestriction, which needs the admin role, loosens it",
            Named(r.AccountId), ("debits_blocked", Flag(r.DebitsAreBlocked)), ("credits_blocked", Flag(r.CreditsAreBlocked))),
        _ => throw Unmapped(rejection),
    };

    private static WireRejection Order(OrderRejection rejection) => rejection switch
    {
        OrderRejection.OrderNotFound r => new(Code.NotFound, "ORDER_NOT_FOUND", $"order '{r.OrderId}' does not exist"),
        OrderRejection.OrderAlreadyExists r => new(Code.AlreadyExists, "ORDER_ALREADY_EXISTS", $"order '{r.OrderId}' already exists"),
        OrderRejection.OrderNotCancellable r => Failed("ORDER_NOT_CANCELLABLE", $"order '{r.OrderId}' is {Lower(r.Status)}"),
        OrderRejection.OrderNotPayable r => Failed("ORDER_NOT_PAYABLE", $"order '{r.OrderId}' is {Lower(r.Status)}"),
        OrderRejection.PaymentMismatch r => Failed("PAYMENT_MISMATCH", $"order '{r.OrderId}' is not paid by payment '{r.PaymentId}'"),
        _ => throw Unmapped(rejection),
    };

    private static WireRejection Payment(PaymentRejection rejection) => rejection switch
    {
        PaymentRejection.PaymentNotFound r => new(Code.NotFound, "PAYMENT_NOT_FOUND", $"payment '{r.PaymentId}' does not exist"),
        PaymentRejection.PaymentAlreadyExists r => new(Code.AlreadyExists, "PAYMENT_ALREADY_EXISTS", $"payment '{r.PaymentId}' already exists"),
        PaymentRejection.PaymentNotRefundable r => Failed("PAYMENT_NOT_REFUNDABLE",
            $"only a completed payment can be refunded; payment '{r.PaymentId}' is {Lower(r.Status)}"),
        PaymentRejection.PaymentIdReserved => Invalid("PAYMENT_ID_RESERVED", "payment_id",
            $"must not start with '{Domain.Orders.Order.PaymentIdPrefix}' (reserved for order payments)"),
        _ => throw Unmapped(rejection),
    };

    /// <summary>The account a refusal is about, so a client of a two-account command (a transfer, a refund) can tell which.</summary>
    private static (string Key, string Value) Named(string accountId) => ("account_id", accountId);

    private static string Blocked(bool debits, bool credits) => (debits, credits) switch
    {
        (true, true) => "debits and credits",
        (true, false) => "debits",
        _ => "credits",
    };

    private static string Flag(bool value) => value ? "true" : "false";

    private static WireRejection Failed(string reason, string message, params (string Key, string Value)[] metadata) =>
        new(Code.FailedPrecondition, reason, message, null, metadata);

    private static WireRejection Invalid(string reason, string field, string description) =>
        new(Code.InvalidArgument, reason, description, field);

    private static string Lower<TStatus>(TStatus status) where TStatus : struct, Enum => status.ToString().ToLowerInvariant();

    private static UnreachableException Unmapped(Rejection rejection) => new($"rejection {rejection.GetType().Name} has no wire form");
}
