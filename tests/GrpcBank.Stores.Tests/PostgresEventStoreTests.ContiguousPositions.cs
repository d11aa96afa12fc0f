using System.Data.Common;
using GrpcBank.Application.EventStore;
using GrpcBank.Postgres;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

// Several servers on one PostgreSQL database append at once, and each append's events still take consecutive positions
// (ContiguousPositions); a group that fails does not keep the others from drawing.
public sealed partial class PostgresEventStoreTests
{
    [Fact]
    public async Task TwoServersWritingLargeAppendsAtOnce_GiveEachAppendConsecutivePositions()
    {
        var servers = new[] { await OpenStoreAsync(), await OpenStoreAsync() };

        // Two writers per server, each append 2,000 events of a stream of its own: inserts long enough to overlap.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 5; i++)
                Assert.IsType<AppendResult.Appended>(await servers[w % 2].AppendAsync(
                    Append($"account-w{w}-{i}", 0, [.. Enumerable.Range(0, 2_000).Select(_ => Event())]), Ct));
        }, Ct)));

        // ReadAll serves the settled prefix only: a transaction another test class holds open anywhere in the cluster
        // keeps it short (once in CI, empty) until it ends.
        var all = new List<RecordedEvent>();
        await EventStoreProbes.Eventually(async () =>
        {
            for (IReadOnlyList<RecordedEvent> page; (page = await servers[0].ReadAllAsync(all.Count == 0 ? 0 : all[^1].Position, 5_000, Ct)).Count > 0;)
                all.AddRange(page);
            return all.Count == 4 * 5 * 2_000;
        });
        foreach (var append in all.GroupBy(e => e.StreamId))
        {
            var (first, last) = (append.Min(e => e.Position), append.Max(e => e.Position));
            var between = all.Where(e => e.Position > first && e.Position < last && e.StreamId != append.Key).ToList();
            Assert.True(between.Count == 0,
                $"{append.Key} took positions {first} to {last}, with {between.Count} events of other appends between (the first at {between.FirstOrDefault()?.Position})");
        }
    }

    [Fact]
    public async Task AGroupTheDatabaseRefuses_LeavesTheOtherServersFreeToAppend()
    {
        var (one, two) = (await OpenStoreAsync(), await OpenStoreAsync());
        var reused = Event();
        await one.AppendAsync(Append("account-old", 0, reused), Ct);

        // The event id taken twice fails the group's insert; the statements after it, the one ending its draw among them, never run.
        await Assert.ThrowsAnyAsync<DbException>(() => one.AppendAsync(Append("account-bad", 0, reused), Ct));
        // Left holding the draw, the refused server's idle connection would keep every other server's appends waiting for good.
        Assert.IsType<AppendResult.Appended>(await WithinTenSeconds(two.AppendAsync(new AppendRequest("account-first", 0, [Event()], Request("r-1"), RecordedAt), Ct)));

        // A group that lost a race for a request id another server logged fails likewise, and is written again.
        Assert.IsType<AppendResult.DuplicateRequest>(await one.AppendAsync(new AppendRequest("account-second", 0, [Event()], Request("r-1"), RecordedAt), Ct));
        Assert.IsType<AppendResult.Appended>(await WithinTenSeconds(two.AppendAsync(Append("account-after", 0, Event()), Ct)));
        Assert.IsType<AppendResult.Appended>(await WithinTenSeconds(one.AppendAsync(Append("account-after-here", 0, Event()), Ct)));

        static Task<AppendResult> WithinTenSeconds(Task<AppendResult> append) => append.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }
}
