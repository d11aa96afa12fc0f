using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.History;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.Application.Tests;

/// <summary>
/// Snapshots shorten long folds and change no answer: a restarted process reads only the events after the newest one,
/// a snapshot of another schema (or one that cannot be read) is ignored, and dropping them all gives the same answers.
/// </summary>
public sealed class SnapshotSpecs
{
    private const string Ada = "ada";
    private static readonly string Stream = Account.StreamId(Ada);
    private static readonly CancellationToken Ct = CancellationToken.None;

    private readonly InMemoryEventStore store = new();

    private StreamStates<AccountEvent, AccountState> NewProcess() =>
        new(store, Account.Decider.Initial, Account.Decider.Evolve, EventCodecs.Accounts);

    private AccountHistory History() => new(store);

    /// <summary>Opens Ada's account and deposits 1, 2, 3, … so every version has its own balance.</summary>
    private void AppendEvents(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var version = store.Stream(Stream).Count;
            Append(version == 0
                ? new AccountEvent.AccountOpened(Ada, "Ada Lovelace", "EUR")
                : new AccountEvent.MoneyDeposited(Ada, version, "EUR", $"d{version}"));
        }
    }

    /// <summary>Places and releases holds on Ada's (open) account: its state grows by each, as an account keeps every hold it had.</summary>
    private void AppendHolds(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var id = $"hold-{i:D6}";
            Append(new AccountEvent.HoldPlaced(Ada, id, 1_000 + i, "EUR", $"card {i}", DateTimeOffset.UnixEpoch.AddDays(7)));
            Append(new AccountEvent.HoldReleased(Ada, id, 1_000 + i));
        }
    }

    private void Append(AccountEvent e)
    {
        var version = store.Stream(Stream).Count;
        var (type, json) = EventCodecs.Accounts.Encode(e);
        Assert.IsType<AppendResult.Appended>(store.Append(new AppendRequest(Stream, version,
            [new EventData(Guid.NewGuid(), type, json, "{}")], null, DateTimeOffset.UnixEpoch.AddSeconds(version + 1))));
    }

    private AccountState FullFold(long version) =>
        Account.Decider.Fold(store.Stream(Stream).Take((int)version).Select(EventCodecs.Accounts.Decode));

    [Fact]
    public async Task GivenALongStream_WhenAProcessFoldsIt_ThenASnapshotIsSaved_AndARestartReadsOnlyTheTailAfterIt()
    {
        AppendEvents(2_503);
        await NewProcess().FreshAsync(Stream, Ct);
        var saved = await store.Snapshots.SavedAsync(Stream, 2_503);
        Assert.Equal(SnapshotSchema<AccountState>.Name, saved.Schema);
        AppendEvents(4);
        store.StreamReadsFrom.Clear();

        var folded = await NewProcess().FreshAsync(Stream, Ct);

        Assert.Equal(2_507, folded.Version);
        Assert.Equal(FullFold(2_507), folded.State);
        Assert.Equal(store.Stream(Stream)[^1].Position, folded.Position);
        Assert.Equal([2_504L], store.StreamReadsFrom);
    }

    [Fact]
    public async Task GivenCommandsPassingAMultipleOfTheInterval_WhenTheirAppendCommits_ThenASnapshotIsSavedThere()
    {
        AppendEvents(StreamStates.SnapshotEvery - 1);
        var process = NewProcess();
        var before = await process.FreshAsync(Stream, Ct);
        Assert.Empty(store.Snapshots.All);
        AppendEvents(1);
        var last = store.Stream(Stream)[^1];

        await process.RememberUnsettled(Stream, before, new Folded<AccountState>(FullFold(before.Version + 1), before.Version + 1, 0), last.EventId,
            Task.FromResult<AppendResult>(Committed(last)));

        var saved = await store.Snapshots.SavedAsync(Stream, StreamStates.SnapshotEvery);
        Assert.Equal(FullFold(StreamStates.SnapshotEvery), StateSnapshots<AccountState>.Deserialize(saved.StateJson));
    }

    [Fact]
    public async Task GivenAChainOfAppendsWhoseFirstPassesAMultipleOfTheInterval_WhenTheyCommit_ThenThatOneSavesASnapshotThere_AndNoOtherDoes()
    {
        AppendEvents(StreamStates.SnapshotEvery - 1);
        var process = NewProcess();
        await process.FreshAsync(Stream, Ct);
        AppendEvents(4);

        await CommitChainAsync(process, store.Stream(Stream).TakeLast(4));

        // Saved although later appends rest on it (they count from here), and only there (not again by each later one).
        var saved = await store.Snapshots.SavedAsync(Stream, StreamStates.SnapshotEvery);
        Assert.Equal(FullFold(StreamStates.SnapshotEvery), StateSnapshots<AccountState>.Deserialize(saved.StateJson));
        Assert.Equal(store.Stream(Stream)[StreamStates.SnapshotEvery - 1].Position, saved.Position);
        await Task.Delay(200); // saves run in the background: give a wrong second one time to land
        Assert.Equal([StreamStates.SnapshotEvery], store.Snapshots.All.Select(s => s.Version));
    }

    /// <summary>
    /// Remembers an unsettled append per event, each resting on the one before (as one-by-one commands and atomic
    /// batches on a busy stream chain), then commits them in order, waiting for each to settle.
    /// </summary>
    private async Task CommitChainAsync(StreamStates<AccountEvent, AccountState> process, IEnumerable<RecordedEvent> events)
    {
        var chain = new List<(RecordedEvent Event, TaskCompletionSource<AppendResult> Commit, Task Settled)>();
        foreach (var e in events)
        {
            var commit = new TaskCompletionSource<AppendResult>();
            var after = new Folded<AccountState>(FullFold(e.StreamVersion), e.StreamVersion, 0);
            chain.Add((e, commit, process.RememberUnsettled(Stream, process.CachedOrEmpty(Stream), after, e.EventId, commit.Task)));
        }
        foreach (var (e, commit, settled) in chain)
        {
            commit.SetResult(Committed(e));
            await settled;
        }
    }

    private static AppendResult.Appended Committed(RecordedEvent e) => new([new StreamVersion(Stream, e.StreamVersion)], e.Position);

    /// <summary>
    /// The versions at which a snapshot of this length is saved again: as many as its kilobytes (of characters), or
    /// every 100 for a small one.
    /// </summary>
    private static int IntervalAfter(Snapshot snapshot) =>
        Math.Max(StreamStates.SnapshotEvery, (snapshot.StateJson.Length + StreamStates.SnapshotCharsPerVersion - 1) / StreamStates.SnapshotCharsPerVersion);

    /// <summary>An account of 5,000 resolved holds, folded by a process, which saved its (large) snapshot.</summary>
    private async Task<(StreamStates<AccountEvent, AccountState> Process, Snapshot First, int Interval)> LargeStateFoldedAsync()
    {
        AppendEvents(2);
        AppendHolds(5_000);
        var process = NewProcess();
        var folded = await process.FreshAsync(Stream, Ct);
        var first = await store.Snapshots.SavedAsync(Stream, folded.Version);
        var interval = IntervalAfter(first);
        Assert.InRange(interval, 3 * StreamStates.SnapshotEvery, int.MaxValue); // large enough to mean something
        return (process, first, interval);
    }

    [Fact]
    public async Task GivenALargeState_WhenCommandsFollowItsSnapshot_ThenTheNextIsSavedAsManyVersionsLaterAsItHasKilobytes_NotAtEachMultipleOf100()
    {
        var (process, first, interval) = await LargeStateFoldedAsync();

        await CommitOneByOneAsync(process, interval + StreamStates.SnapshotEvery);

        var second = await store.Snapshots.SavedAsync(Stream, first.Version + interval);
        await Task.Delay(200); // saves run in the background: give a wrong one time to land
        Assert.Equal([first.Version, first.Version + interval], store.Snapshots.Saves.Select(s => s.Version));
        // What saving costs a command: the deposits left the state's size as it was.
        Assert.InRange((double)second.StateJson.Length / interval, 0, StreamStates.SnapshotCharsPerVersion);
        Assert.Equal(FullFold(second.Version), StateSnapshots<AccountState>.Deserialize(second.StateJson));
    }

    [Fact]
    public async Task GivenALargeSnapshot_WhenARestartedProcessFoldsPastAMultipleOf100_ThenItSavesNone_UntilAsManyVersionsLaterAsItHasKilobytes()
    {
        AppendEvents(2);
        AppendHolds(5_000);
        var at = store.Stream(Stream).Count;
        var large = new Snapshot(Stream, at, store.Stream(Stream)[^1].Position, SnapshotSchema<AccountState>.Name,
            StateSnapshots<AccountState>.Serialize(FullFold(at)));
        await store.Snapshots.SaveAsync(large, Ct);
        var interval = IntervalAfter(large);
        AppendEvents(2 * StreamStates.SnapshotEvery);
        var process = NewProcess();

        var folded = await process.FreshAsync(Stream, Ct);
        await CommitOneByOneAsync(process, at + interval - (int)folded.Version);

        await store.Snapshots.SavedAsync(Stream, at + interval);
        await Task.Delay(200);
        Assert.Equal([at, at + interval], store.Snapshots.Saves.Select(s => s.Version));
    }

    [Fact]
    public async Task GivenALargeState_WhenAnotherProcessesAppendsFollowedPassItsNextSnapshot_ThenThisProcessesNextAppendSavesIt()
    {
        var (process, first, interval) = await LargeStateFoldedAsync();

        AppendEvents(interval + 10);
        Assert.All(store.Stream(Stream).Skip((int)first.Version), e => Assert.True(process.Follow(e)));
        await CommitOneByOneAsync(process, 1);

        var due = first.Version + interval + 11;
        await store.Snapshots.SavedAsync(Stream, due);
        await Task.Delay(200);
        Assert.Equal([first.Version, due], store.Snapshots.Saves.Select(s => s.Version));
    }

    /// <summary>Deposits one by one, each remembered and committed before the next, as a stream's commands come.</summary>
    private async Task CommitOneByOneAsync(StreamStates<AccountEvent, AccountState> process, int count)
    {
        for (var i = 0; i < count; i++)
        {
            AppendEvents(1);
            var last = store.Stream(Stream)[^1];
            var before = process.CachedOrEmpty(Stream);
            var after = new Folded<AccountState>(Account.Decider.Evolve(before.State, EventCodecs.Accounts.Decode(last)), last.StreamVersion, 0);
            await process.RememberUnsettled(Stream, before, after, last.EventId, Task.FromResult<AppendResult>(Committed(last)));
        }
    }

    [Fact]
    public async Task GivenASnapshotOfAnotherSchema_WhenAStreamIsLoaded_ThenItIsIgnored_AndTheStreamIsFoldedFromTheStart()
    {
        AppendEvents(1_500);
        var wrong = StateSnapshots<AccountState>.Serialize(FullFold(1_400) with { BalanceMinor = 999_999_999 });
        await store.Snapshots.SaveAsync(new Snapshot(Stream, 1_400, 1_400, "AccountState.v0.stale", wrong), Ct);
        store.StreamReadsFrom.Clear();

        var folded = await NewProcess().FreshAsync(Stream, Ct);
        var asOf = await History().AsOfAsync(Ada, 1_450, DateTimeOffset.MaxValue, Ct);

        Assert.Equal(FullFold(1_500), folded.State);
        Assert.Equal(1L, store.StreamReadsFrom[0]);
        Assert.Equal(FullFold(1_450), asOf!.State);
    }

    [Fact]
    public async Task GivenASnapshotThatCannotBeRead_WhenAStreamIsLoaded_ThenItIsIgnored()
    {
        AppendEvents(1_200);
        await store.Snapshots.SaveAsync(new Snapshot(Stream, 1_100, 1_100, SnapshotSchema<AccountState>.Name, "{not json"), Ct);

        var folded = await NewProcess().FreshAsync(Stream, Ct);

        Assert.Equal(FullFold(1_200), folded.State);
    }

    [Fact]
    public async Task GivenSnapshotsThatCannotBeSaved_WhenALongStreamIsFolded_ThenTheFoldIsStillAnswered()
    {
        AppendEvents(1_200);
        store.Snapshots.FailSaves = new InvalidOperationException("the snapshot table is gone");

        var folded = await NewProcess().FreshAsync(Stream, Ct);

        Assert.Equal(FullFold(1_200), folded.State);
        Assert.Empty(store.Snapshots.All);
    }

    [Fact]
    public async Task GivenASnapshot_WhenAnAccountIsAskedForAsOfAnyVersion_ThenTheAnswerEqualsTheFullFold_AndStartsFromTheSnapshotWhenAtOrBelowIt()
    {
        AppendEvents(2_600);
        await store.Snapshots.SaveAsync(new Snapshot(Stream, 2_000, 2_000, SnapshotSchema<AccountState>.Name,
            StateSnapshots<AccountState>.Serialize(FullFold(2_000))), Ct);

        foreach (var version in new long[] { 1, 999, 1_999, 2_000, 2_345, 2_600 })
        {
            store.StreamReadsFrom.Clear();
            var asOf = await History().AsOfAsync(Ada, version, DateTimeOffset.MaxValue, Ct);

            Assert.Equal(new AccountAsOf(FullFold(version), version, store.Stream(Stream)[(int)version - 1].RecordedAt), asOf);
            Assert.Equal(version < 2_000 ? 1 : 2_000, store.StreamReadsFrom[0]);
        }
    }

    [Fact]
    public async Task GivenSnapshots_WhenTheyAreAllDropped_ThenEveryAnswerIsTheSame()
    {
        AppendEvents(3_100);
        var handlers = new Handlers(store, TimeProvider.System, new StreamLocks(), rejection => rejection.ToString());
        await handlers.Accounts.HandleAsync(Ada, new AccountCommand.DepositMoney(Ada, 5, "EUR", "warm"), CommandContext.None, (s, v) => (s, v), Ct);
        await store.Snapshots.SavedAsync(Stream, 3_100);
        foreach (var version in new long[] { 1_000, 2_000, 3_000 })
            await store.Snapshots.SaveAsync(new Snapshot(Stream, version, version, SnapshotSchema<AccountState>.Name,
                StateSnapshots<AccountState>.Serialize(FullFold(version))), Ct);
        var versions = new long[] { 1, 1_000, 1_500, 2_999, 3_000, 3_050, 3_101 };

        var withSnapshots = await Answers();
        await store.Snapshots.DropAllAsync(Ct);
        var without = await Answers();

        Assert.NotEmpty(withSnapshots.AsOf);
        Assert.Equal(withSnapshots.Folded, without.Folded);
        Assert.Equal(withSnapshots.AsOf, without.AsOf);
        Assert.Equal(FullFold(3_101), without.Folded.State);
        Assert.Equal(versions.Select(v => FullFold(v)), without.AsOf.Select(a => a!.State));

        async Task<(Folded<AccountState> Folded, List<AccountAsOf?> AsOf)> Answers()
        {
            var folded = await NewProcess().FreshAsync(Stream, Ct);
            var asOf = new List<AccountAsOf?>();
            foreach (var version in versions) asOf.Add(await History().AsOfAsync(Ada, version, DateTimeOffset.MaxValue, Ct));
            return (folded, asOf);
        }
    }

    [Fact]
    public void EveryStateRoundTripsThroughItsSnapshot_AndEachTypeHasItsOwnSchema()
    {
        var account = new AccountState(AccountStatus.Frozen, "ada", "Ada Lovelace", "EUR", 12_345);
        var order = new OrderState(OrderStatus.Paid, "o-1", "ada", "shop", 2_500, "EUR", "payment-o-1");
        var payment = new PaymentState(PaymentStatus.Refunded, "p-1", "o-1", "ada", "shop", 2_500, "EUR", "merchant closed", 2);

        Assert.Equal(account, StateSnapshots<AccountState>.Deserialize(StateSnapshots<AccountState>.Serialize(account)));
        Assert.Equal(order, StateSnapshots<OrderState>.Deserialize(StateSnapshots<OrderState>.Serialize(order)));
        Assert.Equal(payment, StateSnapshots<PaymentState>.Deserialize(StateSnapshots<PaymentState>.Serialize(payment)));
        Assert.Contains("\"Frozen\"", StateSnapshots<AccountState>.Serialize(account));
        Assert.Equal(3, new[] { SnapshotSchema<AccountState>.Name, SnapshotSchema<OrderState>.Name, SnapshotSchema<PaymentState>.Name }.Distinct().Count());
    }

    /// <summary>The account state's shape as it is today, under another name.</summary>
    private sealed record SameShape(AccountStatus Status, string AccountId, string OwnerName, string CurrencyCode, long BalanceMinor)
    {
        public long HeldMinor { get; init; }
        public long OverdraftLimitMinor { get; init; }
        public bool DebitsBlocked { get; init; }
        public bool CreditsBlocked { get; init; }
        public string RestrictionReason { get; init; } = "";
        public System.Collections.Immutable.ImmutableSortedDictionary<string, Hold> Holds { get; init; } =
            System.Collections.Immutable.ImmutableSortedDictionary<string, Hold>.Empty;
    }

    /// <summary>The same with one field more.</summary>
    private sealed record AFieldMore(AccountStatus Status, string AccountId, string OwnerName, string CurrencyCode, long BalanceMinor, long OverdraftMinor);

    /// <summary>The same with a field of another type.</summary>
    private sealed record AnotherType(AccountStatus Status, string AccountId, string OwnerName, string CurrencyCode, int BalanceMinor);

    [Fact]
    public void AChangeOfShape_ChangesTheFingerprint_AndTheSameShapeKeepsIt()
    {
        var today = SnapshotSchema.Fingerprint(typeof(AccountState));

        Assert.Equal(today, SnapshotSchema.Fingerprint(typeof(SameShape)));
        Assert.NotEqual(today, SnapshotSchema.Fingerprint(typeof(AFieldMore)));
        Assert.NotEqual(today, SnapshotSchema.Fingerprint(typeof(AnotherType)));
        Assert.NotEqual(today, SnapshotSchema.Fingerprint(typeof(OrderState)));
    }

    /// <summary>A state as a release stores it: records in a collection (an account's holds) and optional values.</summary>
    private static class EarlierRelease
    {
        public enum HoldStatus { Active, Captured }

        public sealed record Hold(string HoldId, long AmountMinor, HoldStatus Status);

        public sealed record State(long BalanceMinor, DateTimeOffset OpenedAt, long? LimitMinor)
        {
            public System.Collections.Immutable.ImmutableSortedDictionary<string, Hold> Holds { get; init; } =
                System.Collections.Immutable.ImmutableSortedDictionary<string, Hold>.Empty;
        }
    }

    /// <summary>The next release: the holds' record gains a field, everything else is as it was.</summary>
    private static class AFieldMoreInTheHolds
    {
        public sealed record Hold(string HoldId, long AmountMinor, EarlierRelease.HoldStatus Status, long CapturedMinor);

        public sealed record State(long BalanceMinor, DateTimeOffset OpenedAt, long? LimitMinor)
        {
            public System.Collections.Immutable.ImmutableSortedDictionary<string, Hold> Holds { get; init; } =
                System.Collections.Immutable.ImmutableSortedDictionary<string, Hold>.Empty;
        }
    }

    /// <summary>The next release: the holds' status gains a member.</summary>
    private static class AStatusMoreInTheHolds
    {
        public enum HoldStatus { Active, Captured, Expired }

        public sealed record Hold(string HoldId, long AmountMinor, HoldStatus Status);

        public sealed record State(long BalanceMinor, DateTimeOffset OpenedAt, long? LimitMinor)
        {
            public System.Collections.Immutable.ImmutableSortedDictionary<string, Hold> Holds { get; init; } =
                System.Collections.Immutable.ImmutableSortedDictionary<string, Hold>.Empty;
        }
    }

    /// <summary>The next release: the optional value and the time change type.</summary>
    private static class OtherValueTypes
    {
        public sealed record State(long BalanceMinor, DateTime OpenedAt, bool? LimitMinor)
        {
            public System.Collections.Immutable.ImmutableSortedDictionary<string, EarlierRelease.Hold> Holds { get; init; } =
                System.Collections.Immutable.ImmutableSortedDictionary<string, EarlierRelease.Hold>.Empty;
        }
    }

    [Fact]
    public void AChangeOfShapeInsideACollectionOrAnOptionalValue_ChangesTheFingerprint_SoAnEarlierReleasesSnapshotsAreIgnored()
    {
        var earlier = SnapshotSchema.Fingerprint(typeof(EarlierRelease.State));

        Assert.NotEqual(earlier, SnapshotSchema.Fingerprint(typeof(AFieldMoreInTheHolds.State)));
        Assert.NotEqual(earlier, SnapshotSchema.Fingerprint(typeof(AStatusMoreInTheHolds.State)));
        Assert.NotEqual(earlier, SnapshotSchema.Fingerprint(typeof(OtherValueTypes.State)));
    }
}
