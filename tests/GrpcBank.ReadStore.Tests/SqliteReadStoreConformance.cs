using GrpcBank.Application.ReadSide;
using GrpcBank.Sqlite;

namespace GrpcBank.ReadStore.Tests;

/// <summary>The conformance suite on the embedded SQLite read store, one temporary file per test.</summary>
public sealed class SqliteReadStoreConformance : ReadStoreConformance
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "grpcbank-readstore-tests", Guid.NewGuid().ToString("N"));

    protected override Task<IReadStore> CreateStoreAsync() =>
        Task.FromResult<IReadStore>(new SqliteReadStore(Path.Combine(directory, "read.db")));

    public override ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
