using GrpcBank.Application.Commands;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Server.Accounts;

/// <summary>
/// What an account command answers: the account (an assigned id included), its version and its balance after the
/// command. The request log keeps it as JSON and a retry gets it back, so a retried deposit reports the balance of
/// its first run; the property names are that stored format (add, never rename).
/// </summary>
public sealed record AccountReply(string AggregateId, long Version, long BalanceMinor)
{
    /// <summary>Added with holds; a reply logged before them reads back as 0.</summary>
    public long HeldMinor { get; init; }

    public long AvailableMinor => BalanceMinor - HeldMinor;

    /// <summary>
    /// PlaceHold's hold and when it expires, as stored, so that a retry answers the hold its first run placed (an
    /// assigned id, an expiry from a ttl). Null in other replies, and in a PlaceHold reply logged before they were added.
    /// </summary>
    public string? HoldId { get; init; }

    public DateTimeOffset? HoldExpiresAt { get; init; }

    public static ReplyWith<AccountState, AccountReply> For(string accountId) =>
        (state, version) => new(accountId, version, state.BalanceMinor) { HeldMinor = state.HeldMinor };

    public static ReplyWith<AccountState, AccountReply> ForHold(string accountId, string holdId) =>
        (state, version) => For(accountId)(state, version) with
        {
            HoldId = holdId,
            HoldExpiresAt = state.Holds.TryGetValue(holdId, out var hold) ? hold.ExpiresAt : null,
        };
}
