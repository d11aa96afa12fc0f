using LanguageExt;
using static LanguageExt.Prelude;

namespace GrpcBank.Domain;

/// <summary>What a stream holds: every account, order and payment has one stream of its own.</summary>
public enum StreamKind { Account, Order, Payment }

/// <summary>Stream ids are "{kind}-{aggregate id}", e.g. <c>account-42</c>; made and read only here.</summary>
public static class StreamIds
{
    private static readonly Seq<StreamKind> Kinds = toSeq(Enum.GetValues<StreamKind>());

    public static string Of(StreamKind kind, string aggregateId) => Prefix(kind) + aggregateId;

    /// <summary>The kind and aggregate id of a stream id; None for a string that names no stream.</summary>
    public static Option<(StreamKind Kind, string AggregateId)> Parse(string streamId) =>
        Kinds.Find(kind => streamId.Length > Prefix(kind).Length && streamId.StartsWith(Prefix(kind), StringComparison.Ordinal))
            .Map(kind => (kind, streamId[Prefix(kind).Length..]));

    /// <summary>The aggregate id of a stored stream (whose id is known to be well formed).</summary>
    public static string AggregateIdOf(string streamId) =>
        Parse(streamId).Match(p => p.AggregateId, () => throw new ArgumentException($"'{streamId}' is not a stream id", nameof(streamId)));

    private static string Prefix(StreamKind kind) => kind switch
    {
        StreamKind.Account => "account-",
        StreamKind.Order => "order-",
        StreamKind.Payment => "payment-",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
