using System.Diagnostics.Metrics;
using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Tests.EventStore;

/// <summary>How appends are gathered into groups: a lone caller at once, later arrivals together, failures kept to their owners.</summary>
public sealed class GroupCommitSpecs
{
    private static AppendRequest Append(string stream, int bytes = 10) =>
        new(stream, 0, [new EventData(Guid.NewGuid(), "t", new string('x', bytes), "{}")], null, DateTimeOffset.UnixEpoch);

    private static AppendResult Written(AppendRequest r) => new AppendResult.Appended([new StreamVersion(r.Streams[0].StreamId, 1)], 1);

    /// <summary>A group writer that records each group and holds it until released.</summary>
    private sealed class Writer
    {
        public List<IReadOnlyList<string>> Groups { get; } = [];

        public TaskCompletionSource Release { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<IReadOnlyList<AppendResult>> WriteAsync(IReadOnlyList<AppendRequest> group, CancellationToken ct)
        {
            lock (Groups) Groups.Add([.. group.Select(r => r.Streams[0].StreamId)]);
            await Release.Task;
            if (group.Any(r => r.Streams[0].StreamId == "bad")) throw new InvalidDataException("refused");
            // A guard failing, as the engine's group write reports it: that append's result, the others' written.
            return [.. group.Select(r => r.Streams[0].StreamId == "stale" ? new AppendResult.WrongExpectedVersion("stale", 0) : Written(r))];
        }
    }

    /// <summary>A group commit whose writer holds its first group, a lone append, so that later appends queue behind it.</summary>
    private static (Writer Writer, GroupCommit Commit, Task<AppendResult> First) WritingFirst(GroupCommitLimits? limits = null)
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, limits ?? GroupCommitLimits.Default);
        return (writer, commit, commit.AppendAsync(Append("first"), CancellationToken.None));
    }

    [Fact]
    public async Task ALoneCaller_WritesItsOwnGroupAtOnce()
    {
        var writer = new Writer();
        writer.Release.SetResult();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, GroupCommitLimits.Default);

        var result = await commit.AppendAsync(Append("a"), CancellationToken.None);

        Assert.IsType<AppendResult.Appended>(result);
        Assert.Equal([["a"]], writer.Groups);
    }

    [Fact]
    public async Task AnAppendNoEngineCouldWrite_OrOneWhoseCallerHasCancelled_FailsItsOwnCaller_AndNothingOfItIsWritten()
    {
        var writer = new Writer();
        writer.Release.SetResult();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, GroupCommitLimits.Default);
        var twice = new AppendRequest([.. Append("a").Streams, .. Append("a").Streams], null, DateTimeOffset.UnixEpoch);

        // Refused before it is queued, so it can share no group: nor can the rest of its unit.
        await Assert.ThrowsAsync<ArgumentException>(() => commit.AppendGroupAsync([Append("b"), twice], CancellationToken.None));
        await Assert.ThrowsAsync<OperationCanceledException>(() => commit.AppendAsync(Append("c"), new CancellationToken(canceled: true)));
        await commit.AppendAsync(Append("d"), CancellationToken.None);

        Assert.Equal([["d"]], writer.Groups);
    }

    [Fact]
    public async Task AppendsArrivingWhileAGroupIsWritten_GoTogetherInTheNext_WithinTheLimits()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, new GroupCommitLimits(MaxAppends: 3, MaxBytes: 1_000));
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        var later = Enumerable.Range(1, 5).Select(i => commit.AppendAsync(Append($"s{i}", i == 5 ? 2_000 : 10), CancellationToken.None)).ToList();

        writer.Release.SetResult();
        await Task.WhenAll([first, .. later]);

        // At most three appends a group; the one larger than the byte limit goes alone.
        Assert.Equal([["first"], ["s1", "s2", "s3"], ["s4"], ["s5"]], writer.Groups);
        Assert.All(later, t => Assert.IsType<AppendResult.Appended>(t.Result));
    }

    [Theory]
    [InlineData("data")]
    [InlineData("metadata")]
    [InlineData("reply")]
    public async Task TheBytesOfAGroupsAppendsAddUp_EventDataMetadataAndLoggedReplies_SoTwoFitUnderTheLimitAndAThirdWaits(string part)
    {
        var (writer, commit, first) = WritingFirst(new GroupCommitLimits(MaxBytes: 1_000));
        AppendRequest Weighing(string stream) => part switch
        {
            "data" => Append(stream, 400),
            "metadata" => new(stream, 0, [new EventData(Guid.NewGuid(), "t", "", new string('x', 400))], null, DateTimeOffset.UnixEpoch),
            _ => Append(stream, 0) with { Request = new RequestLogEntry($"r-{stream}", "f", new string('x', 400)) },
        };
        var later = new[] { "a", "b", "c", "d" }.Select(s => commit.AppendAsync(Weighing(s), CancellationToken.None)).ToList();

        writer.Release.SetResult();
        await Task.WhenAll([first, .. later]);

        Assert.Equal([["first"], ["a", "b"], ["c", "d"]], writer.Groups);
    }

    [Fact]
    public async Task EachCallerOfAGroup_IsAnsweredWithItsOwnAppendsResults_SoAGuardFailingFailsOnlyItsOwner()
    {
        var (writer, commit, first) = WritingFirst();
        var a = commit.AppendAsync(Append("a"), CancellationToken.None);
        var unit = commit.AppendGroupAsync([Append("b"), Append("stale")], CancellationToken.None);
        var c = commit.AppendAsync(Append("c"), CancellationToken.None);

        writer.Release.SetResult();
        await first;

        static string Outcome(AppendResult r) => r switch
        {
            AppendResult.Appended written => "written " + written.Versions[0].StreamId,
            AppendResult.WrongExpectedVersion wrong => "refused " + wrong.StreamId,
            _ => r.ToString(),
        };
        Assert.Equal(["written a", "written b", "refused stale", "written c"], [Outcome(await a), .. (await unit).Select(Outcome), Outcome(await c)]);
        Assert.Equal([["first"], ["a", "b", "stale", "c"]], writer.Groups);
    }

    [Fact]
    public async Task ACallerWhoseGroupIsWritten_IsAnsweredAtOnce_WhileTheGroupQueuedBehindItIsWrittenOnAnotherThread()
    {
        var (writer, commit, first) = WritingFirst();
        var later = commit.AppendAsync(Append("later"), CancellationToken.None);
        var firstGroup = writer.Release;
        writer.Release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        firstGroup.SetResult();

        // Its caller wrote the first group; the later group, still held, is not its to wait for.
        Assert.IsType<AppendResult.Appended>(await first.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(later.IsCompleted);
        writer.Release.SetResult();
        Assert.IsType<AppendResult.Appended>(await later);
        Assert.Equal([["first"], ["later"]], writer.Groups);
    }

    [Fact]
    public async Task WithTwoGroupsInFlight_AnAppendSharingAStreamWithAGroupBeingWritten_WaitsForIt_WhileOthersAreWrittenBeside()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, GroupCommitLimits.Default with { MaxGroupsInFlight = 2 });
        var first = commit.AppendAsync(Append("s"), CancellationToken.None);
        // Chained on the first: its guard expects what the first appends, so it may not race it in a second transaction.
        var chained = commit.AppendAsync(Append("s"), CancellationToken.None);
        var beside = commit.AppendAsync(Append("t"), CancellationToken.None);

        lock (writer.Groups) Assert.Equal([["s"], ["t"]], writer.Groups);
        Assert.False(chained.IsCompleted);

        writer.Release.SetResult();
        await Task.WhenAll(first, chained, beside);

        Assert.Equal([["s"], ["t"], ["s"]], writer.Groups);
    }

    [Fact]
    public async Task WithChainsOfOne_AGroupHoldsBackAnAppendSharingAStreamWithOneAheadOfIt_AndThoseBehindThatShareWithIt_InQueueOrder()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, GroupCommitLimits.Default, maxChain: 1);
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        // a, b; then a again (chained on the first a) and b again; c shares nothing.
        var later = new[] { "a", "b", "a", "c", "b" }.Select(s => commit.AppendAsync(Append(s), CancellationToken.None)).ToList();

        writer.Release.SetResult();
        await Task.WhenAll([first, .. later]);

        Assert.Equal([["first"], ["a", "b", "c"], ["a", "b"]], writer.Groups);
    }

    [Fact]
    public async Task AppendsSharingAStream_ChainInOneGroupUpToTheLimit_AndTheRestWaitForTheNext_InQueueOrder()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, GroupCommitLimits.Default, maxChain: 2);
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        // a three times: the first two chain in the next group, the third waits; b twice chains; c shares nothing.
        var later = new[] { "a", "b", "a", "a", "c", "b" }.Select(s => commit.AppendAsync(Append(s), CancellationToken.None)).ToList();

        writer.Release.SetResult();
        await Task.WhenAll([first, .. later]);

        Assert.Equal([["first"], ["a", "b", "a", "c", "b"], ["a"]], writer.Groups);
    }

    [Fact]
    public async Task WithChainsOfOne_AReusedRequestIdIsHeldBack_ToALaterGroup()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, GroupCommitLimits.Default, maxChain: 1);
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        AppendRequest Logged(string stream) => Append(stream) with { Request = new RequestLogEntry("r-1", "f", "{}") };
        var later = new[] { Logged("x"), Logged("y"), Append("z") }.Select(r => commit.AppendAsync(r, CancellationToken.None)).ToList();

        writer.Release.SetResult();
        await Task.WhenAll([first, .. later]);

        Assert.Equal([["first"], ["x", "z"], ["y"]], writer.Groups);
    }

    [Fact]
    public async Task AppendsQueuedAsOneUnit_AreNeverSplit_MayChainOnAStream_AndWaitBehindAnEarlierAppendSharingAStream()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => true, new GroupCommitLimits(MaxAppends: 3), maxChain: 1);
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        var a = commit.AppendAsync(Append("a"), CancellationToken.None);
        // A unit writing a twice (chained) and b: held back behind the lone a, with c (sharing nothing) going ahead.
        var unit = commit.AppendGroupAsync([Append("a"), Append("b"), Append("a")], CancellationToken.None);
        var c = commit.AppendAsync(Append("c"), CancellationToken.None);
        // More than the group's limit: a unit goes alone, whole.
        var large = commit.AppendGroupAsync([.. new[] { "d", "e", "f", "g" }.Select(s => Append(s))], CancellationToken.None);

        writer.Release.SetResult();
        await Task.WhenAll(first, a, c);

        Assert.Equal(3, (await unit).Count);
        Assert.All(await large, r => Assert.IsType<AppendResult.Appended>(r));
        Assert.Equal([["first"], ["a", "c"], ["a", "b", "a"], ["d", "e", "f", "g"]], writer.Groups);
    }

    [Fact]
    public async Task AGroupTheDatabaseRefused_IsWrittenAgainOneByOne_SoOnlyTheBadAppendsCallerFails()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, e => e is InvalidDataException, GroupCommitLimits.Default);
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        var later = new[] { "a", "bad", "b" }.Select(s => commit.AppendAsync(Append(s), CancellationToken.None)).ToList();

        writer.Release.SetResult();
        await first;

        Assert.IsType<AppendResult.Appended>(await later[0]);
        await Assert.ThrowsAsync<InvalidDataException>(() => later[1]);
        Assert.IsType<AppendResult.Appended>(await later[2]);
        Assert.Equal([["first"], ["a", "bad", "b"], ["a"], ["bad"], ["b"]], writer.Groups);
    }

    [Fact]
    public async Task AUnitTheDatabaseRefusedAlone_FailsAsRefused_SoItsCallerKnowsNothingOfItWasWritten()
    {
        var writer = new Writer();
        writer.Release.SetResult();
        var commit = new GroupCommit(writer.WriteAsync, e => e is InvalidDataException, GroupCommitLimits.Default);

        var refused = await Assert.ThrowsAsync<GroupRefusedException>(() => commit.AppendGroupAsync([Append("a"), Append("bad")], CancellationToken.None));

        Assert.IsType<InvalidDataException>(refused.InnerException);
        // A lone append refused keeps its own error.
        await Assert.ThrowsAsync<InvalidDataException>(() => commit.AppendAsync(Append("bad"), CancellationToken.None));
        Assert.Equal([["a", "bad"], ["bad"]], writer.Groups);
    }

    [Fact]
    public async Task AFailureWithAnUnknownOutcome_FailsEveryAppendOfTheGroup_WithoutWritingAgain()
    {
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, _ => false, GroupCommitLimits.Default);
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        var later = new[] { "a", "bad" }.Select(s => commit.AppendAsync(Append(s), CancellationToken.None)).ToList();

        writer.Release.SetResult();
        await first;

        foreach (var append in later) await Assert.ThrowsAsync<InvalidDataException>(() => append);
        Assert.Equal([["first"], ["a", "bad"]], writer.Groups);
    }

    [Fact]
    public async Task EachGroupWrite_IsMeasured_ByItsAppendsItsTimeAndItsResult()
    {
        using var measured = new GroupMeasurements();
        var writer = new Writer();
        var commit = new GroupCommit(writer.WriteAsync, e => e is InvalidDataException, GroupCommitLimits.Default);
        var first = commit.AppendAsync(Append("first"), CancellationToken.None);
        var later = new[] { "a", "bad", "b" }.Select(s => commit.AppendAsync(Append(s), CancellationToken.None)).ToList();
        var unit = commit.AppendGroupAsync([Append("c"), Append("d")], CancellationToken.None);

        writer.Release.SetResult();
        await Task.WhenAll(first, later[0], later[2], unit);
        await Assert.ThrowsAsync<InvalidDataException>(() => later[1]);

        // The lone first append; the five queued behind it (the unit counts its two), refused whole and written again
        // one unit at a time, the bad one refused alone.
        Assert.Equal([(1, "written"), (5, "refused"), (1, "written"), (1, "refused"), (1, "written"), (2, "written")], measured.Groups);
        Assert.Equal(measured.Groups.Select(g => g.Result), measured.Durations.Select(d => d.Result));
        Assert.All(measured.Durations, d => Assert.InRange(d.Ms, 0, 60_000));

        var failing = new GroupCommit(writer.WriteAsync, _ => false, GroupCommitLimits.Default);
        await Assert.ThrowsAsync<InvalidDataException>(() => failing.AppendAsync(Append("bad"), CancellationToken.None));
        Assert.Equal((1, "failed"), measured.Groups[^1]);
    }

    /// <summary>
    /// The group measurements (<see cref="Telemetry.AppendGroupSize"/>, <see cref="Telemetry.AppendGroupDuration"/>) of
    /// the test that made this, and of no other: the meter is process-wide and tests run at once, so only measurements
    /// taken in this test's own flow (an async-local mark) are kept.
    /// </summary>
    private sealed class GroupMeasurements : IDisposable
    {
        private static readonly AsyncLocal<GroupMeasurements?> Current = new();
        private readonly MeterListener listener = new();

        public List<(int Appends, string Result)> Groups { get; } = [];

        public List<(double Ms, string Result)> Durations { get; } = [];

        public GroupMeasurements()
        {
            Current.Value = this;
            // Read before the listener starts: the first read creates Telemetry's instruments, and ones created from inside
            // the callback below, while the listener is starting, would never be published to it.
            var (size, duration) = (Telemetry.AppendGroupSize, Telemetry.AppendGroupDuration);
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument == size || instrument == duration) l.EnableMeasurementEvents(instrument);
            };
            listener.SetMeasurementEventCallback<int>((_, appends, tags, _) => Keep(Groups, (appends, Result(tags))));
            listener.SetMeasurementEventCallback<double>((_, ms, tags, _) => Keep(Durations, (ms, Result(tags))));
            listener.Start();
        }

        private void Keep<T>(List<T> list, T measurement)
        {
            if (Current.Value != this) return;
            lock (list) list.Add(measurement);
        }

        private static string Result(ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
            tags.ToArray().Single(t => t.Key == "result").Value as string ?? "";

        public void Dispose() => listener.Dispose();
    }
}
