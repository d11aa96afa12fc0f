using System.Data.Common;
using GrpcBank.Application.EventStore;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>Group commit: many appends in one transaction, each keeping its own guard; concurrent appends gathered into groups.</summary>
public abstract partial class EventStoreConformance
{
    [Fact]
    public async Task AConflictingAppendInAGroup_FailsAlone_ItsNeighboursAreWrittenWithTheirRequestLogRows()
    {
        await AppendAsync("account-x", 0, Event());

        var results = await Store.AppendGroupAsync(
        [
            new AppendRequest("account-a", 0, [Event(), Event()], Request("r-a"), RecordedAt),
            new AppendRequest("account-x", 0, [Event()], Request("r-x"), RecordedAt),
            new AppendRequest([new StreamAppend("account-b", 0, [Event()]), new StreamAppend("account-x", 0, [Event()])], Request("r-bx"), RecordedAt),
            new AppendRequest("account-c", 0, [Event()], Request("r-c"), RecordedAt),
        ], Ct);

        var a = Assert.IsType<AppendResult.Appended>(results[0]);
        Assert.Equal(new AppendResult.WrongExpectedVersion("account-x", 0), results[1]);
        Assert.Equal(new AppendResult.WrongExpectedVersion("account-x", 0), results[2]);
        var c = Assert.IsType<AppendResult.Appended>(results[3]);
        Assert.Equal((2L, 1L), (a.Version, c.Version));
        Assert.Equal([a.Position - 1, a.Position], (await Store.ReadStreamAsync("account-a", 1, 10, Ct)).Select(e => e.Position));
        Assert.Equal(c.Position, Assert.Single(await Store.ReadStreamAsync("account-c", 1, 10, Ct)).Position);
        Assert.Empty(await Store.ReadStreamAsync("account-b", 1, 10, Ct));
        Assert.Single(await Store.ReadStreamAsync("account-x", 1, 10, Ct));
        Assert.Equal((a.Position, c.Position), ((await Store.FindRequestAsync("r-a", Ct))!.Position, (await Store.FindRequestAsync("r-c", Ct))!.Position));
        Assert.Null(await Store.FindRequestAsync("r-x", Ct));
        Assert.Null(await Store.FindRequestAsync("r-bx", Ct));
        var delivered = await Store.DrainOutboxAsync(c.Position);
        Assert.Equal(["account-x", "account-a", "account-a", "account-c"], delivered.Select(e => e.StreamId));
    }

    [Fact]
    public async Task TheSameRequestIdTwiceInOneGroup_WritesOnlyTheFirst_AndAnIdLoggedBeforeWritesNeither()
    {
        await AppendAsync("account-old", 0, [Event()], Request("r-old"));

        var results = await Store.AppendGroupAsync(
        [
            new AppendRequest("account-a", 0, [Event()], Request("r-1"), RecordedAt),
            new AppendRequest("account-b", 0, [Event()], Request("r-1"), RecordedAt),
            new AppendRequest("account-c", 0, [Event()], Request("r-old"), RecordedAt),
            new AppendRequest("account-d", 0, [Event()], null, RecordedAt),
        ], Ct);

        var first = Assert.IsType<AppendResult.Appended>(results[0]);
        Assert.Equal(new AppendResult.DuplicateRequest("r-1"), results[1]);
        Assert.Equal(new AppendResult.DuplicateRequest("r-old"), results[2]);
        Assert.IsType<AppendResult.Appended>(results[3]);
        Assert.Equal(first.Position, (await Store.FindRequestAsync("r-1", Ct))!.Position);
        Assert.Empty(await Store.ReadStreamAsync("account-b", 1, 10, Ct));
        Assert.Empty(await Store.ReadStreamAsync("account-c", 1, 10, Ct));
        Assert.Single(await Store.ReadStreamAsync("account-d", 1, 10, Ct));
    }

    [Fact]
    public async Task AppendsToOneStreamInOneGroup_ChainInSubmissionOrder_AndAStaleOneAmongThemFailsAlone()
    {
        var results = await Store.AppendGroupAsync(
        [
            new AppendRequest("account-a", 0, [Event(data: """{"n":1}""")], null, RecordedAt),
            new AppendRequest("account-a", 1, [Event(data: """{"n":2}"""), Event(data: """{"n":3}""")], null, RecordedAt),
            new AppendRequest("account-a", 1, [Event(data: """{"n":99}""")], null, RecordedAt),
            new AppendRequest("account-a", 3, [Event(data: """{"n":4}""")], null, RecordedAt),
        ], Ct);

        Assert.Equal([1L, 3L], results.Take(2).Select(r => ((AppendResult.Appended)r).Version));
        Assert.Equal(new AppendResult.WrongExpectedVersion("account-a", 1), results[2]);
        Assert.Equal(4, ((AppendResult.Appended)results[3]).Version);
        var stream = await Store.ReadStreamAsync("account-a", 1, 10, Ct);
        Assert.Equal(["""{"n":1}""", """{"n":2}""", """{"n":3}""", """{"n":4}"""], stream.Select(e => e.DataJson.Replace(" ", "")));
        Assert.Equal(stream.Select(e => e.Position).Order(), stream.Select(e => e.Position));
    }

    [Fact]
    public async Task AnAppendExpectingAnotherAppendsLastEvent_IsWrittenOnlyIfThatOneWas_EvenWhenTheStreamReachesTheVersionOtherwise()
    {
        // Chained in one group: the second expects the first's last event at version 1, and finds it.
        var first = Event();
        var chained = await Store.AppendGroupAsync(
        [
            new AppendRequest("account-a", 0, [first], null, RecordedAt),
            new AppendRequest([new StreamAppend("account-a", 1, [Event()]) { ExpectedLastEventId = first.EventId }], Request("r-a"), RecordedAt),
        ], Ct);
        Assert.Equal([1L, 2L], chained.Select(r => Assert.IsType<AppendResult.Appended>(r).Version));

        // Another writer takes version 1 of account-b: the append it beat fails, and so does the one resting on it,
        // although the stream is at the version that one expects.
        await AppendAsync("account-b", 0, Event());
        var lost = Event();
        var failed = await Store.AppendGroupAsync(
        [
            new AppendRequest("account-b", 0, [lost], null, RecordedAt),
            new AppendRequest([new StreamAppend("account-b", 1, [Event()]) { ExpectedLastEventId = lost.EventId }], Request("r-b"), RecordedAt),
        ], Ct);
        Assert.Equal(new AppendResult[] { new AppendResult.WrongExpectedVersion("account-b", 0), new AppendResult.WrongExpectedVersion("account-b", 1) }, failed);
        Assert.Single(await Store.ReadStreamAsync("account-b", 1, 10, Ct));
        Assert.Null(await Store.FindRequestAsync("r-b", Ct));

        // Alone, through the group commit, likewise.
        Assert.Equal(new AppendResult.WrongExpectedVersion("account-a", 2), await Store.AppendAsync(
            new AppendRequest([new StreamAppend("account-a", 2, [Event()]) { ExpectedLastEventId = lost.EventId }], null, RecordedAt), Ct));
        Assert.Equal(2, (await Store.ReadStreamAsync("account-a", 1, 10, Ct)).Count);
    }

    [Fact]
    public async Task AGroupTheDatabaseRefuses_WritesNothing_AndConcurrentNeighboursOfTheBadAppendAreStillWritten()
    {
        var reused = Event();
        await AppendAndDeliverAsync("account-old", reused);

        // Explicitly grouped: the event id taken twice is refused for the whole group, and nothing of it is written.
        var refused = await Assert.ThrowsAsync<GroupRefusedException>(() => Store.AppendGroupAsync(
            [new AppendRequest("account-a", 0, [Event()], null, RecordedAt), new AppendRequest("account-b", 0, [reused], null, RecordedAt)], Ct));
        Assert.IsAssignableFrom<DbException>(refused.InnerException);
        Assert.Empty(await Store.ReadStreamAsync("account-a", 1, 10, Ct));

        // Gathered from concurrent callers: only the caller of the bad append hears of it.
        var appends = Enumerable.Range(0, 20)
            .Select(i => Task.Run(() => Store.AppendAsync(new AppendRequest($"account-{i}", 0, [i == 7 ? reused : Event()], null, RecordedAt), Ct), Ct))
            .ToList();
        await Assert.ThrowsAnyAsync<DbException>(() => appends[7]);
        foreach (var (append, i) in appends.Select((a, i) => (a, i)).Where(x => x.i != 7))
            Assert.Equal(1, Assert.IsType<AppendResult.Appended>(await append).Version);
        Assert.Empty(await Store.ReadStreamAsync("account-7", 1, 10, Ct));
    }

    [Fact]
    public async Task ManyConcurrentCallers_AreEachAnsweredWithTheirOwnAppend_AndConflictsStayWithTheirCallers()
    {
        // 200 callers: 100 new streams, and 100 that all race for version 1 of one stream (exactly one wins).
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => Store.AppendAsync(
            new AppendRequest(i % 2 == 0 ? $"account-{i}" : "account-hot", 0, [Event(data: $$"""{"n":{{i}}}""")], Request($"r-{i}"), RecordedAt), Ct), Ct)));

        for (var i = 0; i < 200; i += 2)
        {
            var appended = Assert.IsType<AppendResult.Appended>(results[i]);
            var written = Assert.Single(await Store.ReadStreamAsync($"account-{i}", 1, 10, Ct));
            Assert.Equal((appended.Position, $$"""{"n":{{i}}}"""), (written.Position, written.DataJson.Replace(" ", "")));
            Assert.Equal(appended.Position, (await Store.FindRequestAsync($"r-{i}", Ct))!.Position);
        }
        var hot = Enumerable.Range(0, 100).Select(i => results[2 * i + 1]).ToList();
        var winner = Assert.Single(hot.OfType<AppendResult.Appended>());
        Assert.All(hot.Where(r => r != winner), r => Assert.Equal(new AppendResult.WrongExpectedVersion("account-hot", 0), r));
        Assert.Equal(winner.Position, Assert.Single(await Store.ReadStreamAsync("account-hot", 1, 10, Ct)).Position);
        Assert.Equal(101, (await Store.DrainOutboxAsync(results.OfType<AppendResult.Appended>().Max(r => r.Position))).Count);
    }

    [Fact]
    public async Task AnAppendCarryingSeveralRequests_LogsEachAtItsLastPosition_AndAnyOneLoggedBeforeFailsItWhole()
    {
        var appended = Assert.IsType<AppendResult.Appended>(await Store.AppendAsync(
            new AppendRequest([new StreamAppend("account-a", 0, [Event()]), new StreamAppend("account-b", 0, [Event()])], null, RecordedAt)
            {
                MoreRequests = [Request("batch-1"), Request("batch-2")],
            }, Ct));

        Assert.Equal((appended.Position, appended.Position),
            ((await Store.FindRequestAsync("batch-1", Ct))!.Position, (await Store.FindRequestAsync("batch-2", Ct))!.Position));
        var again = await Store.AppendAsync(
            new AppendRequest("account-c", 0, [Event()], Request("batch-3"), RecordedAt) { MoreRequests = [Request("batch-2")] }, Ct);
        Assert.Equal(new AppendResult.DuplicateRequest("batch-2"), again);
        Assert.Empty(await Store.ReadStreamAsync("account-c", 1, 10, Ct));
        Assert.Null(await Store.FindRequestAsync("batch-3", Ct));
    }
}
