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

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        directory.Delete(recursive: true);
    }
}
