using GrpcBank.Application.EventStore;
using GrpcBank.Sqlite;

namespace GrpcBank.Stores.Tests;

public sealed class SqliteEventStoreConformance : EventStoreConformance
{
    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("grpcbank-sqlite-");

    protected override Task<IEventStore> CreateStoreAsync() =>
        Task.FromResult<IEventStore>(new SqliteEventStore(Path.Combine(directory.FullName, "events.db")));

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        directory.Delete(recursive: true);
    }
}
