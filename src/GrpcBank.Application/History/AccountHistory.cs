using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Application.History;

/// <summary>Time travel on the write side: an account's state after its first N events, or as of a moment.</summary>
public sealed class AccountHistory(IEventStore store)
{
    private const int Page = 1_000;

    /// <summary>The fold of every event up to <paramref name="maxVersion"/> recorded no later than <paramref name="until"/>; null if none.</summary>
    public async Task<AccountAsOf?> AsOfAsync(string accountId, long maxVersion, DateTimeOffset until, CancellationToken ct)
    {
        var state = Account.Decider.Initial;
        RecordedEvent? last = null;
        var streamId = Account.StreamId(accountId);
        while (true)
        {
            var page = await store.ReadStreamAsync(streamId, (last?.StreamVersion ?? 0) + 1, Page, ct);
            foreach (var e in page)
            {
                if (e.StreamVersion > maxVersion || e.RecordedAt > until) return Result();
                state = Account.Evolve(state, EventCodecs.Accounts.Decode(e));
                last = e;
            }
            if (page.Count < Page) return Result();
        }

        AccountAsOf? Result() => last is null ? null : new AccountAsOf(state, last.StreamVersion, last.RecordedAt);
    }
}

public sealed record AccountAsOf(AccountState State, long Version, DateTimeOffset RecordedAt);
