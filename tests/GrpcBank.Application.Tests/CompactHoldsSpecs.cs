using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Application.Tests;

/// <summary>
/// An account keeps every hold it ever had, so its snapshot grows with them: each hold is written compact, reads back
/// exactly as the fold has it, and a snapshot in the layout before is never loaded.
/// </summary>
public sealed class CompactHoldsSpecs
{
    private const string Ada = "ada";
    private const int HoldCount = 1_000;
    private static readonly string Stream = Account.StreamId(Ada);
    private static readonly DateTimeOffset Expiry = new(2026, 12, 14, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Holds of every outcome; a few with what an older release stored (digits below the microsecond, an offset).</summary>
    private static IEnumerable<AccountEvent> History()
    {
        yield return new AccountEvent.AccountOpened(Ada, "Ada Lovelace", "EUR");
        yield return new AccountEvent.MoneyDeposited(Ada, 100_000_000, "EUR", "salary");
        for (var i = 0; i < HoldCount; i++)
        {
            var id = $"hold-{i:D6}";
            var expiry = i % 10 == 0 ? Expiry.AddTicks(i % 7 + 1).ToOffset(TimeSpan.FromHours(2)) : Expiry.AddMinutes(i);
            yield return new AccountEvent.HoldPlaced(Ada, id, 1_000 + i, "EUR", $"card \"{i}\" é", expiry);
            switch (i % 4)
            {
                case 0: yield return new AccountEvent.HoldCaptured(Ada, id, 600 + i, 400, "EUR", "shop", "", ""); break;
                case 1: yield return new AccountEvent.HoldReleased(Ada, id, 1_000 + i); break;
                case 2: yield return new AccountEvent.HoldExpired(Ada, id, 1_000 + i, expiry); break;
            }
        }
    }

    private static readonly AccountState Folded = Account.Decider.Fold(History());

    /// <summary>
    /// The layout lists a hold's fields by hand, and the snapshot schema's fingerprint does not guard it: a field added to
    /// <see cref="Hold"/> without a place in the layout would be lost from every snapshot.
    /// </summary>
    [Fact]
    public void TheLayout_HasAPlaceForEveryFieldOfAHold()
    {
        string[] written = ["HoldId", "AmountMinor", "CurrencyCode", "Reference", "ExpiresAt", "Status", "CapturedMinor"];
        Assert.Equal(written, typeof(Hold).GetConstructors().Single().GetParameters().Select(p => p.Name));
    }

    [Fact]
    public void AnAccountsHolds_ReadBackFromItsSnapshotAsTheFoldHasThem_AndDecideAsIt_InUnder110CharactersAHold()
    {
        var json = StateSnapshots<AccountState>.Serialize(Folded);
        var read = StateSnapshots<AccountState>.Deserialize(json)!;

        Assert.Equal(Folded, read);
        Assert.Equal(Folded.Holds.Keys, read.Holds.Keys);
        Assert.Equal(Folded.Holds.Values.Select(h => (h.ExpiresAt.UtcTicks, h.ExpiresAt.Offset)),
            read.Holds.Values.Select(h => (h.ExpiresAt.UtcTicks, h.ExpiresAt.Offset)));
        Assert.All(OnResolvedHolds, command => Assert.Equal(Account.Decide(command, Folded), Account.Decide(command, read)));
        // Keyed objects naming every field took about 200 a hold here, 190 (3.7 MB) for an account of 20,000 plainer ones.
        Assert.InRange(json.Length, 1, 110 * HoldCount);
    }

    /// <summary>The same hold placed again (an older one, by an expiry to the microsecond) or not the same; resolved holds moved again.</summary>
    private static readonly AccountCommand[] OnResolvedHolds =
    [
        new AccountCommand.PlaceHold(Ada, "hold-000010", 1_010, "EUR", "card \"10\" é", Expiry.AddTicks(4).ToOffset(TimeSpan.FromHours(2)), Expiry.AddDays(-1)),
        new AccountCommand.PlaceHold(Ada, "hold-000011", 1_011, "EUR", "other", Expiry.AddMinutes(11), Expiry.AddDays(-1)),
        new AccountCommand.CaptureHold(Ada, "hold-000004", 0, "again", Expiry.AddDays(-1)),
        new AccountCommand.ReleaseHold(Ada, "hold-000005"),
        new AccountCommand.CaptureHold(Ada, "hold-000006", 0, "late", Expiry.AddDays(-1)),
        new AccountCommand.ExpireHold(Ada, "hold-000006", Expiry.AddDays(30)),
        new AccountCommand.ExpireHold(Ada, "hold-000007", Expiry.AddDays(30)),
        new AccountCommand.CaptureHold(Ada, "hold-000003", 0, "now", Expiry.AddDays(-1)),
    ];

    [Fact]
    public async Task GivenASnapshotInTheLayoutBeforeCompactHolds_WhenTheAccountIsLoaded_ThenItIsIgnored_AndFoldedFromTheStart()
    {
        var store = new InMemoryEventStore();
        var events = History().Select(e => EventCodecs.Accounts.Encode(e)).Select(e => new EventData(Guid.NewGuid(), e.EventType, e.DataJson, "{}")).ToList();
        Assert.IsType<AppendResult.Appended>(store.Append(new AppendRequest(Stream, 0, events, null, Expiry)));
        var before = $"AccountState.v1.{SnapshotSchema.Fingerprint(typeof(AccountState))}";
        await store.Snapshots.SaveAsync(new Snapshot(Stream, events.Count, events.Count, before, KeyedHoldsLayout(Folded)), CancellationToken.None);

        var folded = await new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Decider.Evolve, EventCodecs.Accounts)
            .FreshAsync(Stream, CancellationToken.None);

        Assert.Equal(Folded, folded.State);
        Assert.Equal(1L, store.StreamReadsFrom[0]);
    }

    /// <summary>The account as snapshots were written before: holds an object keyed by id, each naming its fields.</summary>
    private static string KeyedHoldsLayout(AccountState state) =>
        System.Text.Json.JsonSerializer.Serialize(state, new System.Text.Json.JsonSerializerOptions
        {
            Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
            IgnoreReadOnlyProperties = true,
        });
}
