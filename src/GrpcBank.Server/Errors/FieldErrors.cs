using System.Globalization;
using System.Text;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Server.Errors;

/// <summary>
/// Collects malformed fields of one request; <see cref="ThrowIfAny"/> answers INVALID_ARGUMENT naming them all. A check
/// that mirrors a domain rule carries that rule's public reason (INVALID_AMOUNT, UNKNOWN_CURRENCY, …): on its field
/// violation, and on an ErrorInfo for the first such violation, as the domain's own refusal would.
/// </summary>
/// <param name="prefix">Put before every field name: where the message sits in a larger request (<c>commands[3].deposit.</c>).</param>
public sealed class FieldErrors(string prefix = "")
{
    public const int MaxIdLength = 64;
    public const int MaxRequestIdLength = 128;
    public const int MaxNameLength = 200;
    public const int MaxTextLength = 500;

    private readonly List<BadRequest.Types.FieldViolation> violations = [];

    public FieldErrors Add(string field, string description, string reason = "")
    {
        violations.Add(new BadRequest.Types.FieldViolation { Field = prefix + field, Description = description, Reason = reason });
        return this;
    }

    /// <summary>A field the domain rule <paramref name="rejection"/> refuses: its description and its public reason.</summary>
    private FieldErrors Add(string field, string description, Rejection rejection) => Add(field, description, ErrorMapper.Reason(rejection));

    /// <summary>Ids: 1–64 characters of letters, digits, '-', '_' and '.'. Streams are named after them.</summary>
    public FieldErrors Id(string field, string value, bool optional = false, int maxLength = MaxIdLength)
    {
        if (value.Length == 0)
            return optional ? this : Add(field, "is required");
        return IsId(value, maxLength) ? this : Add(field, $"must be 1 to {maxLength} characters of letters, digits, '-', '_' or '.'");
    }

    /// <summary>
    /// The id of something a command creates (empty: the server assigns one). It may not be <c>.</c> or <c>..</c>: a URL
    /// path cannot name them (its dot segments are resolved away), so the JSON API could never reach what they name.
    /// </summary>
    public FieldErrors NewId(string field, string value) =>
        value is "." or ".." ? Add(field, "must not be '.' or '..', which a URL path cannot name") : Id(field, value, optional: true);

    public static bool IsId(string value, int maxLength = MaxIdLength) =>
        value.Length > 0 && value.Length <= maxLength && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Payment ids: an order's payment is named after the order (Order.PaymentIdOf), so they may be longer.</summary>
    public FieldErrors PaymentId(string field, string value) => Id(field, value, maxLength: MaxIdLength + Order.PaymentIdPrefix.Length);

    public FieldErrors RequestId(string value) =>
        value.Length > MaxRequestIdLength || !IsPrintable(value)
            ? Add("request_id", $"must be at most {MaxRequestIdLength} printable characters")
            : value.StartsWith(PaymentProcess.RequestIdPrefix, StringComparison.Ordinal)
                ? Add("request_id", $"must not start with '{PaymentProcess.RequestIdPrefix}' (reserved for the payment process)")
                : this;

    public FieldErrors Amount(string field, long amountMinor) =>
        Money.IsValidAmount(amountMinor)
            ? this
            : Add(field, $"must be between 1 and {Money.MaxAmountMinor} minor units", new MoneyRejection.InvalidAmount(amountMinor));

    public FieldErrors OverdraftLimit(string field, long limitMinor) =>
        Account.IsValidOverdraftLimit(limitMinor)
            ? this
            : Add(field, $"must be between 0 and {Money.MaxAmountMinor} minor units", new AccountRejection.InvalidOverdraftLimit(limitMinor));

    /// <summary>What a restriction of <paramref name="accountId"/> blocks: debits, credits or both (RESTRICTION_BLOCKS_NOTHING, naming block_debits).</summary>
    public FieldErrors Blocks(string accountId, bool blockDebits, bool blockCredits) =>
        Account.BlocksAnything(blockDebits, blockCredits)
            ? this
            : Add("block_debits", "block_debits or block_credits (or both) must be true", new AccountRejection.RestrictionBlocksNothing(accountId));

    /// <summary>
    /// A hold's expiry, the hold placed now (<see cref="Account.HoldExpiryRefusal"/>), named by the field that gave it
    /// (<c>expires_at</c>, <c>ttl</c>, <c>authorization_ttl</c>).
    /// </summary>
    public FieldErrors HoldExpiry(string field, DateTimeOffset expiresAt, DateTimeOffset now) => Account.HoldExpiryRefusal(expiresAt, now) switch
    {
        AccountRejection.HoldExpiryNotInFuture r => Add(field, "must end later than now", r),
        AccountRejection.HoldExpiryTooFar r => Add(field, $"must end at most {Account.MaxHoldLifetime.TotalDays} days from now", r),
        _ => this,
    };

    /// <summary>
    /// The expiry of a hold placed now for <paramref name="ttl"/>, kept to the microsecond as every expiry is; now, with an
    /// error naming <paramref name="field"/>, if no hold may expire then (<see cref="HoldExpiry"/>).
    /// </summary>
    public DateTimeOffset HoldExpiryAfter(string field, TimeSpan ttl, DateTimeOffset now)
    {
        // A Duration reaches ±10,000 years, past the range of a time: such an expiry is judged at the range's end.
        var expiresAt = HoldExpiryPrecision.Of(ttl > DateTimeOffset.MaxValue - now ? DateTimeOffset.MaxValue
            : ttl < DateTimeOffset.MinValue - now ? DateTimeOffset.MinValue
            : now + ttl);
        var before = violations.Count;
        HoldExpiry(field, expiresAt, now);
        return violations.Count == before ? expiresAt : now;
    }

    /// <summary>Money moves between two accounts (SAME_ACCOUNT): <paramref name="field"/> names another than <paramref name="otherField"/>.</summary>
    public FieldErrors OtherAccount(string field, string accountId, string otherField, string otherAccountId) =>
        accountId.Length > 0 && accountId == otherAccountId
            ? Add(field, $"must differ from {otherField}", new MoneyRejection.SameAccount(accountId))
            : this;

    /// <summary>An order's payment is named after the order (PAYMENT_ID_RESERVED): no other payment may take such a name.</summary>
    public FieldErrors NotAnOrdersPaymentId(string field, string value) =>
        Order.IsOrderPaymentId(value)
            ? Add(field, $"must not start with '{Order.PaymentIdPrefix}' (reserved for order payments)", new PaymentRejection.PaymentIdReserved(value))
            : this;

    public FieldErrors CurrencyCode(string field, string value) =>
        Currency.IsKnown(value) ? this : Add(field, "must be an ISO 4217 currency code in upper case, e.g. EUR", new MoneyRejection.UnknownCurrency(value));

    /// <summary>
    /// A name needs something to see: one of only white space and invisible format characters (a zero-width space, a
    /// direction mark, a byte-order mark) would be an account no one can tell by name, so it is OWNER_NAME_REQUIRED too.
    /// </summary>
    public FieldErrors OwnerName(string field, string value) =>
        HasNothingVisible(value) ? Add(field, "is required", new AccountRejection.OwnerNameRequired("")) : Text(field, value, MaxNameLength);

    private static bool HasNothingVisible(string value)
    {
        foreach (var rune in value.EnumerateRunes())
            if (!Rune.IsWhiteSpace(rune) && Rune.GetUnicodeCategory(rune) != UnicodeCategory.Format) return false;
        return true;
    }

    public FieldErrors Text(string field, string value, int maxLength, bool required = false)
    {
        if (required && string.IsNullOrWhiteSpace(value)) return Add(field, "is required");
        if (value.Length > maxLength) return Add(field, $"must be at most {maxLength} characters");
        return IsPrintable(value) ? this : Add(field, "must not contain control characters, line breaks or unpaired surrogates");
    }

    /// <summary>How an enum field that holds none of its values is refused: it names them all, as the .proto does.</summary>
    public static string OneOfDescription(IEnumerable<string> contractNames) => $"must be one of {string.Join(", ", contractNames)}";

    public FieldErrors NotNegative(string field, long value) =>
        value >= 0 ? this : Add(field, "must not be negative");

    /// <summary>A set timestamp as a time, or null with an error naming <paramref name="field"/> when it is out of range.</summary>
    public DateTimeOffset? Time(string field, Google.Protobuf.WellKnownTypes.Timestamp? value)
    {
        if (value is null) return null;
        try
        {
            return value.ToDateTimeOffset();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            Add(field, "must be a valid timestamp between years 1 and 9999");
            return null;
        }
    }

    /// <summary>A duration as a time span, or null with an error naming <paramref name="field"/> when it is malformed.</summary>
    public TimeSpan? Duration(string field, Google.Protobuf.WellKnownTypes.Duration value)
    {
        try
        {
            return value.ToTimeSpan();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            Add(field, "must be a valid duration");
            return null;
        }
    }

    public void ThrowIfAny()
    {
        if (ToRpcException() is { } e) throw e;
    }

    /// <summary>INVALID_ARGUMENT with a BadRequest detail naming every malformed field (and an ErrorInfo with the first reason), or null if none is.</summary>
    public RpcException? ToRpcException() => ToStatus()?.ToRpcException();

    /// <summary>The status <see cref="ToRpcException"/> carries, or null if no field is malformed.</summary>
    public Google.Rpc.Status? ToStatus()
    {
        if (violations.Count == 0) return null;
        var badRequest = new BadRequest();
        badRequest.FieldViolations.AddRange(violations);
        var status = new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = "invalid " + string.Join(", ", violations.Select(v => v.Field).Distinct()),
            Details = { Google.Protobuf.WellKnownTypes.Any.Pack(badRequest) },
        };
        if (violations.FirstOrDefault(v => v.Reason.Length > 0) is { } reasoned)
            status.Details.Add(Google.Protobuf.WellKnownTypes.Any.Pack(new ErrorInfo { Domain = ErrorMapper.Domain, Reason = reasoned.Reason }));
        return status;
    }

    private static bool IsPrintable(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            // Text fields are one line: U+2028 and U+2029 break a line as a control character does, in a log or a statement.
            if (char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator) return false;
            if (char.IsHighSurrogate(c) && (i + 1 >= value.Length || !char.IsLowSurrogate(value[++i]))) return false;
            if (char.IsLowSurrogate(c)) return false;
        }
        return true;
    }
}
