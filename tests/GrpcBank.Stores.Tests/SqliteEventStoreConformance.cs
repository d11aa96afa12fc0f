using GrpcBank.Application.EventStore;
using GrpcBank.Sqlite;
using Microsoft.Data.Sqlite;

namespace GrpcBank.Stores.Tests;

public sealed class SqliteEventStoreConformance : EventStoreConformance
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("grpcbank-sqlite-");

    private string DatabasePath => Path.Combine(directory.FullName, "events.db");

    protected override Task<IEventStore> CreateStoreAsync() => Task.FromResult<IEventStore>(new SqliteEventStore(DatabasePath));

    protected override Task RefuseRequestLogRowsAsync()
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "create trigger refuse_request_log before insert on request_log begin select raise(abort, 'refused'); end";
        command.ExecuteNonQuery();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ThePositionsOfOneAppend_AreConsecutive_EvenWithConcurrentWriters()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => Store.AppendAsync(new AppendRequest(
            [new StreamAppend($"account-{i}-a", 0, [TestEvents.Event(), TestEvents.Event()]), new StreamAppend($"account-{i}-b", 0, [TestEvents.Event()])],
            null, TestEvents.RecordedAt), Ct), Ct)));

        foreach (var appended in results.Cast<AppendResult.Appended>())
        {
            var i = appended.Versions[0].StreamId.Split('-')[1];
            var positions = (await Store.ReadStreamAsync($"account-{i}-a", 1, 10, Ct))
                .Concat(await Store.ReadStreamAsync($"account-{i}-b", 1, 10, Ct)).Select(e => e.Position);
            Assert.Equal([appended.Position - 2, appended.Position - 1, appended.Position], positions);
        }
    }

    [Fact]
    public async Task AnOutboxWrittenWithARowPerEvent_IsDeliveredOncePerEvent_InWholeAppends_AfterARestart()
    {
        // Before an append had one outbox row, each of its events had one, naming the append's last event.
        var path = Path.Combine(directory.FullName, "row-per-event.db");
        long first, second;
        using (var store = new SqliteEventStore(path))
        {
            first = ((AppendResult.Appended)await store.AppendAsync(
                new AppendRequest("account-1", 0, [TestEvents.Event(), TestEvents.Event(), TestEvents.Event()], null, TestEvents.RecordedAt), Ct)).Position;
            second = ((AppendResult.Appended)await store.AppendAsync(new AppendRequest("account-2", 0, [TestEvents.Event()], null, TestEvents.RecordedAt), Ct)).Position;
        }
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                delete from outbox;
                insert into outbox (position, last_of_append) select position, case when position <= $first then $first else $second end from events;
                """;
            command.Parameters.AddWithValue("$first", first);
            command.Parameters.AddWithValue("$second", second);
            command.ExecuteNonQuery();
        }

        using var restarted = new SqliteEventStore(path);
        var batch = await restarted.PendingAsync(100, count: 4);

        Assert.Equal([[first - 2, first - 1, first], [second]], batch.Appends.Select(a => a.Select(e => e.Position).ToList()));
        Assert.Empty(await restarted.DrainOutboxAsync(second, batch));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        directory.Delete(recursive: true);
    }
}
