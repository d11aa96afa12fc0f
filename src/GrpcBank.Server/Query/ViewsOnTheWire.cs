using Google.Protobuf.WellKnownTypes;
using GrpcBank.Application.ReadSide;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Accounts;

namespace GrpcBank.Server.Query;

/// <summary>The read side's views as bank.query.v1 messages, and the contract's filter values as the views'.</summary>
internal static class ViewsOnTheWire
{
    public static Account ToProto(AccountView v) => new()
    {
        AccountId = v.AccountId,
        OwnerName = v.OwnerName,
        CurrencyCode = v.CurrencyCode,
        BalanceMinor = v.BalanceMinor,
        Status = AccountStatusOnTheWire.ToQuery(v.Status),
        Version = v.Version,
        OpenedAt = Timestamp.FromDateTimeOffset(v.OpenedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(v.UpdatedAt),
        HeldMinor = v.HeldMinor,
        AvailableMinor = v.AvailableMinor,
        OverdraftLimitMinor = v.OverdraftLimitMinor,
        DebitsBlocked = v.DebitsBlocked,
        CreditsBlocked = v.CreditsBlocked,
    };

    public static Hold ToProto(HoldView v) => new()
    {
        HoldId = v.HoldId,
        AccountId = v.AccountId,
        AmountMinor = v.AmountMinor,
        CapturedMinor = v.CapturedMinor,
        CurrencyCode = v.CurrencyCode,
        Status = v.Status switch
        {
            HoldViewStatus.Active => HoldStatus.Active,
            HoldViewStatus.Captured => HoldStatus.Captured,
            HoldViewStatus.Released => HoldStatus.Released,
            HoldViewStatus.Expired => HoldStatus.Expired,
            _ => HoldStatus.Unspecified,
        },
        Reference = v.Reference,
        ExpiresAt = Timestamp.FromDateTimeOffset(v.ExpiresAt),
        PlacedAt = Timestamp.FromDateTimeOffset(v.PlacedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(v.UpdatedAt),
        Position = v.Position,
    };

    public static Order ToProto(OrderView v) => new()
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
            OrderViewStatus.Authorized => OrderStatus.Authorized,
            _ => OrderStatus.Unspecified,
        },
        PaymentId = v.PaymentId,
        CancellationReason = v.CancellationReason,
        PlacedAt = Timestamp.FromDateTimeOffset(v.PlacedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(v.UpdatedAt),
        Version = v.Version,
    };

    public static Payment ToProto(PaymentView v) => new()
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

    public static AccountViewStatus ToView(AccountStatus s) => s switch
    {
        AccountStatus.Frozen => AccountViewStatus.Frozen,
        AccountStatus.Closed => AccountViewStatus.Closed,
        _ => AccountViewStatus.Active,
    };

    public static OrderViewStatus ToView(OrderStatus s) => s switch
    {
        OrderStatus.Paid => OrderViewStatus.Paid,
        OrderStatus.Cancelled => OrderViewStatus.Cancelled,
        OrderStatus.Authorized => OrderViewStatus.Authorized,
        _ => OrderViewStatus.Placed,
    };

    public static PaymentViewStatus ToView(PaymentStatus s) => s switch
    {
        PaymentStatus.Completed => PaymentViewStatus.Completed,
        PaymentStatus.Failed => PaymentViewStatus.Failed,
        PaymentStatus.Refunded => PaymentViewStatus.Refunded,
        _ => PaymentViewStatus.Initiated,
    };

    public static Transaction ToProto(TransactionView v) => new()
    {
        TransactionId = v.TransactionId,
        AccountId = v.AccountId,
        Kind = v.Kind switch
        {
            Application.ReadSide.TransactionKind.Deposit => Contracts.Query.V1.TransactionKind.Deposit,
            Application.ReadSide.TransactionKind.Withdrawal => Contracts.Query.V1.TransactionKind.Withdrawal,
            Application.ReadSide.TransactionKind.PaymentDebit => Contracts.Query.V1.TransactionKind.PaymentDebit,
            Application.ReadSide.TransactionKind.PaymentCredit => Contracts.Query.V1.TransactionKind.PaymentCredit,
            Application.ReadSide.TransactionKind.RefundDebit => Contracts.Query.V1.TransactionKind.RefundDebit,
            Application.ReadSide.TransactionKind.RefundCredit => Contracts.Query.V1.TransactionKind.RefundCredit,
            Application.ReadSide.TransactionKind.Capture => Contracts.Query.V1.TransactionKind.Capture,
            _ => Contracts.Query.V1.TransactionKind.Unspecified,
        },
        AmountMinor = v.AmountMinor,
        CurrencyCode = v.CurrencyCode,
        BalanceAfterMinor = v.BalanceAfterMinor,
        OccurredAt = Timestamp.FromDateTimeOffset(v.OccurredAt),
        Reference = v.Reference,
        PaymentId = v.PaymentId,
        OrderId = v.OrderId,
    };

    public static Contracts.Query.V1.TransactionSummary ToProto(SummaryBucket b) => new()
    {
        StartTime = b.Start is { } start ? Timestamp.FromDateTimeOffset(start) : null,
        CreditMinor = b.CreditMinor,
        CreditCount = b.CreditCount,
        DebitMinor = b.DebitMinor,
        DebitCount = b.DebitCount,
    };
}
