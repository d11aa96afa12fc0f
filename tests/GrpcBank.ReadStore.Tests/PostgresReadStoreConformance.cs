using GrpcBank.Application.ReadSide;
using GrpcBank.Postgres.ReadStore;
using GrpcBank.Testing;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// The conformance suite on the PostgreSQL read store: one database for the class, each test its own schema prefix
/// (so its own views and generations).
/// </summary>
public sealed class PostgresReadStoreConformance(PostgresServer postgres) : ReadStoreConformance
{
    private PostgresReadStoreGenerations? generations;

    protected override async Task<IReadStore> CreateStoreAsync()
    {
        var database = await postgres.DatabaseForClassAsync(typeof(PostgresReadStoreConformance));
        generations = await PostgresReadStoreGenerations.OpenAsync(database, $"t{Guid.NewGuid():N}"[..20], CancellationToken.None);
        return generations.OpenCurrent();
    }

    public override async ValueTask DisposeAsync()
    {
        if (generations is not null) await generations.DisposeAsync();
    }
}
