using GrpcBank.Application.EventStore;
using GrpcBank.Postgres;
using GrpcBank.Testing;
using Npgsql;

namespace GrpcBank.Stores.Tests;

/// <summary>The conformance suite on PostgreSQL: a database per class, a fresh schema per test.</summary>
// One collection with the other class on the shared cluster: PostgresEventStoreTests hold transactions open, and while
// one is open no position after it settles in any database of the cluster, so a relay test running beside it times out.
[Collection("PostgreSQL event store")]
public class PostgresEventStoreConformance(PostgresServer server) : EventStoreConformance
{
    private readonly string schema = $"t_{Guid.NewGuid():N}";

    protected virtual GroupCommitLimits GroupCommit => GroupCommitLimits.Default;

    protected override async Task<IEventStore> CreateStoreAsync() =>
        await PostgresEventStore.OpenAsync(await server.DatabaseForClassAsync(GetType()), schema, Ct, GroupCommit);

    protected override async Task RefuseRequestLogRowsAsync()
    {
        await using var connection = new NpgsqlConnection(
            new NpgsqlConnectionStringBuilder(await server.DatabaseForClassAsync(GetType())) { SearchPath = schema }.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("""
            create function refuse() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$;
            create trigger refuse_request_log before insert on request_log for each row execute function refuse();
            """, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }
}

/// <summary>The same suite with several groups written at once (<c>EventStore:GroupCommit:MaxGroupsInFlight</c>).</summary>
[Collection("PostgreSQL event store")]
public sealed class PostgresEventStoreConformanceWithGroupsInFlight(PostgresServer server) : PostgresEventStoreConformance(server)
{
    protected override GroupCommitLimits GroupCommit => GroupCommitLimits.Default with { MaxGroupsInFlight = 4 };
}
