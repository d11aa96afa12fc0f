using System.Reflection;
using System.Text.Json;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using GrpcBank.Application.ReadSide;
using GrpcBank.Server.Errors;

namespace GrpcBank.Server.Query;

/// <summary>Turns the query requests' paging, ordering, enum, currency and time fields into read-side terms, collecting field errors.</summary>
public static class QueryArguments
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;
    public const int MaxQueryLength = 200;

    private static readonly IReadOnlyDictionary<string, AccountOrder> AccountOrders = new Dictionary<string, AccountOrder>
    {
        ["relevance"] = AccountOrder.Relevance,
        ["owner_name"] = AccountOrder.OwnerName,
        ["owner_name desc"] = AccountOrder.OwnerNameDesc,
        ["balance_minor"] = AccountOrder.BalanceMinor,
        ["balance_minor desc"] = AccountOrder.BalanceMinorDesc,
        ["opened_at"] = AccountOrder.OpenedAt,
        ["opened_at desc"] = AccountOrder.OpenedAtDesc,
    };

    /// <summary>0 means the default; 1 to 100 as asked; anything else is refused.</summary>
    public static int PageSize(FieldErrors errors, int pageSize)
    {
        if (pageSize == 0) return DefaultPageSize;
        if (pageSize is >= 1 and <= MaxPageSize) return pageSize;
        errors.Add("page_size", $"must be between 1 and {MaxPageSize} (0 means {DefaultPageSize})");
        return DefaultPageSize;
    }

    /// <summary>
    /// The cursor of a page token issued for the same filters and order (<paramref name="filters"/>), unaltered, whose
    /// sort value has the form that order produces; otherwise a page_token error.
    /// </summary>
    public static SortKey? After(FieldErrors errors, PageTokens tokens, string pageToken, object?[] filters, Func<string, bool> fits)
    {
        if (tokens.TryDecode(pageToken, Fingerprint(filters), out var after) && (after is null || fits(after.Value))) return after;
        errors.Add("page_token", "is not a token from a previous response to this same query (same filters and order), as issued");
        return null;
    }

    /// <summary>The page token for the next page, bound to the filters and order.</summary>
    public static string NextToken(PageTokens tokens, SortKey? next, object?[] filters) => tokens.Encode(next, Fingerprint(filters));

    private static string Fingerprint(object?[] filters) => JsonSerializer.Serialize(filters);

    public static bool FitsNumber(string value) => SortValues.ParseNumber(value) is not null;

    public static bool FitsTime(string value) => SortValues.ParseTime(value) is not null;

    /// <summary>Empty: the default (relevance with a query, else owner name); otherwise one of the documented orders.</summary>
    public static AccountOrder AccountOrderOf(FieldErrors errors, string orderBy, bool hasQuery)
    {
        var normalized = string.Join(' ', orderBy.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (normalized.Length == 0) return hasQuery ? AccountOrder.Relevance : AccountOrder.OwnerName;
        if (!AccountOrders.TryGetValue(normalized, out var order))
        {
            errors.Add("order_by", $"must be one of: {string.Join(", ", AccountOrders.Keys.Select(k => $"\"{k}\""))}");
            return AccountOrder.OwnerName;
        }
        if (order == AccountOrder.Relevance && !hasQuery) errors.Add("order_by", "\"relevance\" needs a query");
        return order;
    }

    /// <summary>Free text: at most 200 printable characters; blank means none.</summary>
    public static string Text(FieldErrors errors, string query)
    {
        errors.Text("query", query, MaxQueryLength);
        return query.Trim();
    }

    /// <summary>Null for the UNSPECIFIED zero value (any); a defined value mapped; an undefined number refused.</summary>
    public static TView? Enum<TProto, TView>(FieldErrors errors, string field, TProto value, Func<TProto, TView> map)
        where TProto : struct, System.Enum where TView : struct
    {
        if (Convert.ToInt32(value) == 0) return null;
        if (System.Enum.IsDefined(value)) return map(value);
        errors.Add(field, FieldErrors.OneOfDescription(ContractNames<TProto>()));
        return null;
    }

    /// <summary>The values as the .proto names them (ACCOUNT_STATUS_ACTIVE, …), the zero value (any) first.</summary>
    private static IEnumerable<string> ContractNames<TProto>() where TProto : struct, System.Enum =>
        typeof(TProto).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => f.GetCustomAttribute<OriginalNameAttribute>()?.Name ?? f.Name);

    /// <summary>Empty: none; otherwise a known ISO 4217 code.</summary>
    public static string? Currency(FieldErrors errors, string currencyCode)
    {
        if (currencyCode.Length == 0) return null;
        errors.CurrencyCode("currency_code", currencyCode);
        return currencyCode;
    }

    public static string? OptionalId(FieldErrors errors, string field, string value, int maxLength = FieldErrors.MaxIdLength)
    {
        errors.Id(field, value, optional: true, maxLength);
        return value.Length == 0 ? null : value;
    }

    /// <summary>[start_time, end_time): each a valid timestamp when set, and start before end when both are.</summary>
    public static (DateTimeOffset? From, DateTimeOffset? To) TimeRange(FieldErrors errors, Timestamp? start, Timestamp? end)
    {
        var from = errors.Time("start_time", start);
        var to = errors.Time("end_time", end);
        if (from is not null && to is not null && from >= to) errors.Add("end_time", "must be after start_time");
        return (from, to);
    }
}
