using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.Application.History;

/// <summary>Time travel on the write side: an account's state after its first N events, or as of a moment.</summary>
public sealed class AccountHistory(IEventStore store, ILogger<AccountHistory>? log = null)
{
    private const int Page = 1_000;

    private readonly StateSnapshots<AccountState> snapshots = new(store.Snapshots, log ?? (ILogger)NullLogger.Instance);

    /// <summary>The fold of every event up to <paramref name="maxVersion"/> recorded no later than <paramref name="until"/>; null if none.</summary>
    /// <remarks>
    /// Without a time bound the fold starts from the newest snapshot at or below <paramref name="maxVersion"/>. With one
    /// it starts from the first event: the answer stops at the first event recorded after the moment, and a snapshot
    /// does not keep the times of the events folded into it.
    /// </remarks>
    public async Task<AccountAsOf?> AsOfAsync(string accountId, long maxVersion, DateTimeOffset until, CancellationToken ct)
    {
        var streamId = Account.StreamId(accountId);
        var start = until == DateTimeOffset.MaxValue ? await snapshots.LoadAsync(streamId, maxVersion, ct) : null;
        var state = start?.State ?? Account.Decider.Initial;
        var folded = start?.Version ?? 0;
        RecordedEvent? last = null;
        // From a snapshot, its own last event is read again (not folded) for the time it was recorded.
        var next = start?.Version ?? 1;
        while (true)
        {
            var page = await store.ReadStreamAsync(streamId, next, Page, ct);
            foreach (var e in page)
            {
                if (e.StreamVersion <= folded)
                {
                    last = e;
                    continue;
                }
                if (e.StreamVersion > maxVersion || e.RecordedAt > until) return Result();
                state = Account.Evolve(state, EventCodecs.Accounts.Decode(e));
                last = e;
            }
            if (page.Count < Page) return Result();
            next = page[^1].StreamVersion + 1;
        }

        AccountAsOf? Result() => last is null ? null : new AccountAsOf(state, last.StreamVersion, last.RecordedAt);
    }
}

public sealed record AccountAsOf(AccountState State, long Version, DateTimeOffset RecordedAt);
