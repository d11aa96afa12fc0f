using GrpcBank.Ctl.Output;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using Q = GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Ctl.Verify;

/// <summary>One entity's fields as both sides are compared: proto field names, values as the read side spells them.</summary>
public sealed record Snapshot(long Version, IReadOnlyList<(string Field, string Value)> Fields);

/// <summary>Puts a folded stream and its read-side view into the same shape, mapping statuses as the projections do.</summary>
public static class Views
{
    public static Snapshot Of(AccountState s, long version) => new(version,
    [
        ("owner_name", s.OwnerName), ("currency_code", s.CurrencyCode), ("balance_minor", s.BalanceMinor.ToString()),
        ("status", Format.Enum(s.Status switch
        {
            AccountStatus.Active => Q.AccountStatus.Active,
            AccountStatus.Frozen => Q.AccountStatus.Frozen,
            AccountStatus.Closed => Q.AccountStatus.Closed,
            _ => Q.AccountStatus.Unspecified,
        })),
        ("version", version.ToString()),
    ]);

    public static Snapshot Of(Q.Account a) => new(a.Version,
    [
        ("owner_name", a.OwnerName), ("currency_code", a.CurrencyCode), ("balance_minor", a.BalanceMinor.ToString()),
        ("status", Format.Enum(a.Status)), ("version", a.Version.ToString()),
    ]);

    public static Snapshot Of(PaymentState s, long version) => new(version,
    [
        ("from_account_id", s.FromAccountId), ("to_account_id", s.ToAccountId), ("amount_minor", s.AmountMinor.ToString()),
        ("currency_code", s.CurrencyCode), ("status", Format.Enum(PublicStatus(s.Status))), ("version", version.ToString()),
    ]);

    public static Snapshot Of(Q.Payment p) => new(p.Version,
    [
        ("from_account_id", p.FromAccountId), ("to_account_id", p.ToAccountId), ("amount_minor", p.AmountMinor.ToString()),
        ("currency_code", p.CurrencyCode), ("status", Format.Enum(p.Status)), ("version", p.Version.ToString()),
    ]);

    public static Snapshot Of(OrderState s, long version) => new(version,
    [
        ("customer_account_id", s.CustomerAccountId), ("merchant_account_id", s.MerchantAccountId), ("amount_minor", s.AmountMinor.ToString()),
        ("payment_id", s.PaymentId),
        ("status", Format.Enum(s.Status switch
        {
            OrderStatus.Placed => Q.OrderStatus.Placed,
            OrderStatus.Paid => Q.OrderStatus.Paid,
            OrderStatus.Cancelled => Q.OrderStatus.Cancelled,
            OrderStatus.Authorized => Q.OrderStatus.Authorized,
            _ => Q.OrderStatus.Unspecified,
        })),
        ("version", version.ToString()),
    ]);

    public static Snapshot Of(Q.Order o) => new(o.Version,
    [
        ("customer_account_id", o.CustomerAccountId), ("merchant_account_id", o.MerchantAccountId), ("amount_minor", o.AmountMinor.ToString()),
        ("payment_id", o.PaymentId), ("status", Format.Enum(o.Status)), ("version", o.Version.ToString()),
    ]);

    /// <summary>
    /// The public status of a payment, as PaymentProjection shows it: every step before the outcome is known is
    /// INITIATED (compensation included), a refund under way leaves it COMPLETED until the payer has the money back.
    /// </summary>
    public static Q.PaymentStatus PublicStatus(PaymentStatus status) => status switch
    {
        PaymentStatus.Initiated or PaymentStatus.PayerDebited or PaymentStatus.Compensating => Q.PaymentStatus.Initiated,
        PaymentStatus.Completed or PaymentStatus.Refunding or PaymentStatus.RefundPayeeDebited => Q.PaymentStatus.Completed,
        PaymentStatus.Failed => Q.PaymentStatus.Failed,
        PaymentStatus.Refunded => Q.PaymentStatus.Refunded,
        _ => Q.PaymentStatus.Unspecified,
    };

    /// <summary>The write side's own step, for in-flight lines: "payer debited", "refunding", …</summary>
    public static string Describe(PaymentStatus status) => status switch
    {
        PaymentStatus.PayerDebited => "payer debited",
        PaymentStatus.RefundPayeeDebited => "refund payee debited",
        _ => status.ToString().ToLowerInvariant(),
    };
}
