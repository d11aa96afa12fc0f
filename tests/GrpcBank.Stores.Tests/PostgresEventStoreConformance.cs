using GrpcBank.Application.EventStore;
using GrpcBank.Postgres;
using GrpcBank.Testing;

namespace GrpcBank.Stores.Tests;

/// <summary>The conformance suite on PostgreSQL: a database per class, a fresh schema per test.</summary>
public sealed class PostgresEventStoreConformance(PostgresServer server) : EventStoreConformance
{
    protected override async Task<IEventStore> CreateStoreAsync() =>
        await PostgresEventStore.OpenAsync(await server.DatabaseForClassAsync(GetType()), $"t_{Guid.NewGuid():N}", Ct);
}
