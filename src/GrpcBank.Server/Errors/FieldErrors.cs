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

    public FieldErrors CurrencyCode(string field, string value) =>
        Currency.IsKnown(value) ? this : Add(field, "must be an ISO 4217 currency code in upper case, e.g. EUR", new MoneyRejection.UnknownCurrency(value));

    public FieldErrors OwnerName(string field, string value) =>
        string.IsNullOrWhiteSpace(value) ? Add(field, "is required", new AccountRejection.OwnerNameRequired("")) : Text(field, value, MaxNameLength);

    public FieldErrors Text(string field, string value, int maxLength, bool required = false)
    {
        if (required && string.IsNullOrWhiteSpace(value)) return Add(field, "is required");
        if (value.Length > maxLength) return Add(field, $"must be at most {maxLength} characters");
        return IsPrintable(value) ? this : Add(field, "must not contain control characters or unpaired surrogates");
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
            if (char.IsControl(c)) return false;
            if (char.IsHighSurrogate(c) && (i + 1 >= value.Length || !char.IsLowSurrogate(value[++i]))) return false;
            if (char.IsLowSurrogate(c)) return false;
        }
        return true;
    }
}
