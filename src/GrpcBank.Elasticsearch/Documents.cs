using System.Text.Json.Serialization;
using GrpcBank.Application.ReadSide;

namespace GrpcBank.Elasticsearch;

// The documents are the index's storage format: field names match the explicit mappings in IndexLayout, and
// enums are stored by name so a reordering of a C# enum never changes what a stored document means.

/// <summary>An account as stored in the accounts index.</summary>
internal sealed record AccountDocument(
    [property: JsonPropertyName("account_id")] string AccountId,
    [property: JsonPropertyName("owner_name")] string OwnerName,
    [property: JsonPropertyName("currency_code")] string CurrencyCode,
    [property: JsonPropertyName("balance_minor")] long BalanceMinor,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("version")] long Version,
    [property: JsonPropertyName("opened_at")] DateTimeOffset OpenedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("held_minor")] long HeldMinor,
    [property: JsonPropertyName("overdraft_limit_minor")] long OverdraftLimitMinor,
    [property: JsonPropertyName("debits_blocked")] bool DebitsBlocked,
    [property: JsonPropertyName("credits_blocked")] bool CreditsBlocked)
{
    public static AccountDocument From(AccountView v) =>
        new(v.AccountId, v.OwnerName, v.CurrencyCode, v.BalanceMinor, v.Status.ToString(), v.Version, v.OpenedAt, v.UpdatedAt,
            v.HeldMinor, v.OverdraftLimitMinor, v.DebitsBlocked, v.CreditsBlocked);

    public AccountView ToView() =>
        new(AccountId, OwnerName, CurrencyCode, BalanceMinor, Enum.Parse<AccountViewStatus>(Status), Version, OpenedAt, UpdatedAt)
        {
            HeldMinor = HeldMinor, OverdraftLimitMinor = OverdraftLimitMinor, DebitsBlocked = DebitsBlocked, CreditsBlocked = CreditsBlocked,
        };
}

/// <summary>A hold as stored in the holds index (id: account id and hold id); its external version is the position of its last change.</summary>
internal sealed record HoldDocument(
    [property: JsonPropertyName("account_id")] string AccountId,
    [property: JsonPropertyName("hold_id")] string HoldId,
    [property: JsonPropertyName("amount_minor")] long AmountMinor,
    [property: JsonPropertyName("captured_minor")] long CapturedMinor,
    [property: JsonPropertyName("currency_code")] string CurrencyCode,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("reference")] string Reference,
    [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt,
    [property: JsonPropertyName("placed_at")] DateTimeOffset PlacedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("position")] long Position)
{
    /// <summary>Hold ids are unique per account only, so the document id names both.</summary>
    public static string IdOf(string accountId, string holdId) => $"{accountId}/{holdId}";

    public static HoldDocument From(HoldView h) =>
        new(h.AccountId, h.HoldId, h.AmountMinor, h.CapturedMinor, h.CurrencyCode, h.Status.ToString(), h.Reference, h.ExpiresAt,
            h.PlacedAt, h.UpdatedAt, h.Position);

    public HoldView ToView() =>
        new(AccountId, HoldId, AmountMinor, CapturedMinor, CurrencyCode, Enum.Parse<HoldViewStatus>(Status), Reference, ExpiresAt,
            PlacedAt, UpdatedAt, Position);
}

/// <summary>A statement line as stored in the transactions index; its external version is the event's position.</summary>
internal sealed record TransactionDocument(
    [property: JsonPropertyName("transaction_id")] string TransactionId,
    [property: JsonPropertyName("account_id")] string AccountId,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("amount_minor")] long AmountMinor,
    [property: JsonPropertyName("currency_code")] string CurrencyCode,
    [property: JsonPropertyName("balance_after_minor")] long BalanceAfterMinor,
    [property: JsonPropertyName("occurred_at")] DateTimeOffset OccurredAt,
    [property: JsonPropertyName("reference")] string Reference,
    [property: JsonPropertyName("payment_id")] string PaymentId,
    [property: JsonPropertyName("order_id")] string OrderId,
    [property: JsonPropertyName("position")] long Position)
{
    public static TransactionDocument From(TransactionView t) =>
        new(t.TransactionId, t.AccountId, t.Kind.ToString(), t.AmountMinor, t.CurrencyCode, t.BalanceAfterMinor, t.OccurredAt,
            t.Reference, t.PaymentId, t.OrderId, t.Position);

    public TransactionView ToView() =>
        new(TransactionId, AccountId, Enum.Parse<TransactionKind>(Kind), AmountMinor, CurrencyCode, BalanceAfterMinor, OccurredAt,
            Reference, PaymentId, OrderId, Position);
}

/// <summary>An order as stored in the orders index.</summary>
internal sealed record OrderDocument(
    [property: JsonPropertyName("order_id")] string OrderId,
    [property: JsonPropertyName("customer_account_id")] string CustomerAccountId,
    [property: JsonPropertyName("merchant_account_id")] string MerchantAccountId,
    [property: JsonPropertyName("amount_minor")] long AmountMinor,
    [property: JsonPropertyName("currency_code")] string CurrencyCode,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("payment_id")] string PaymentId,
    [property: JsonPropertyName("cancellation_reason")] string CancellationReason,
    [property: JsonPropertyName("placed_at")] DateTimeOffset PlacedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("version")] long Version)
{
    public static OrderDocument From(OrderView v) =>
        new(v.OrderId, v.CustomerAccountId, v.MerchantAccountId, v.AmountMinor, v.CurrencyCode, v.Description, v.Status.ToString(),
            v.PaymentId, v.CancellationReason, v.PlacedAt, v.UpdatedAt, v.Version);

    public OrderView ToView() =>
        new(OrderId, CustomerAccountId, MerchantAccountId, AmountMinor, CurrencyCode, Description, Enum.Parse<OrderViewStatus>(Status),
            PaymentId, CancellationReason, PlacedAt, UpdatedAt, Version);
}

/// <summary>A payment as stored in the payments index.</summary>
internal sealed record PaymentDocument(
    [property: JsonPropertyName("payment_id")] string PaymentId,
    [property: JsonPropertyName("order_id")] string OrderId,
    [property: JsonPropertyName("from_account_id")] string FromAccountId,
    [property: JsonPropertyName("to_account_id")] string ToAccountId,
    [property: JsonPropertyName("amount_minor")] long AmountMinor,
    [property: JsonPropertyName("currency_code")] string CurrencyCode,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("failure_reason")] string FailureReason,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("version")] long Version)
{
    public static PaymentDocument From(PaymentView v) =>
        new(v.PaymentId, v.OrderId, v.FromAccountId, v.ToAccountId, v.AmountMinor, v.CurrencyCode, v.Status.ToString(),
            v.FailureReason, v.CreatedAt, v.UpdatedAt, v.Version);

    public PaymentView ToView() =>
        new(PaymentId, OrderId, FromAccountId, ToAccountId, AmountMinor, CurrencyCode, Enum.Parse<PaymentViewStatus>(Status),
            FailureReason, CreatedAt, UpdatedAt, Version);
}

/// <summary>The applied watermark of one generation: every event up to <see cref="Position"/> is searchable.</summary>
internal sealed record CheckpointDocument(
    [property: JsonPropertyName("position")] long Position,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt);

/// <summary>A write Elasticsearch refused for good (a mapping error, say), kept for an operator instead of being skipped.</summary>
internal sealed record DeadLetterDocument(
    [property: JsonPropertyName("index")] string Index,
    [property: JsonPropertyName("document_id")] string DocumentId,
    [property: JsonPropertyName("version")] long Version,
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("error_type")] string ErrorType,
    [property: JsonPropertyName("error_reason")] string ErrorReason,
    [property: JsonPropertyName("document_json")] string DocumentJson,
    [property: JsonPropertyName("position")] long Position,
    [property: JsonPropertyName("failed_at")] DateTimeOffset FailedAt);
