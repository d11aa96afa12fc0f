using GrpcBank.Application.EventStore;
using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>Snapshots of folded states (table from <c>Migrations/004_snapshots.sql</c>).</summary>
public sealed partial class PostgresEventStore : ISnapshotStore
{
    private const string LoadSnapshotSql = """
        select stream_version, position, state from snapshots
        where stream_id = $1 and schema = $2 and stream_version <= $3
        order by stream_version desc limit 1
        """;

    public ISnapshotStore Snapshots => this;

    // A snapshot is a cache of events that are durable already: its commit does not wait for its WAL flush (a crash may
    // lose it, and a load then folds from an older one). It removes the stream's older ones in the same statement
    // (ISnapshotStore.SaveAsync says why).
    Task ISnapshotStore.SaveAsync(Snapshot snapshot, CancellationToken ct) =>
        ExecuteWithoutFlushAsync("""
            with saved as (
                insert into snapshots (stream_id, schema, stream_version, position, state) values ($1, $2, $3, $4, $5)
                on conflict (stream_id, schema, stream_version) do update set position = excluded.position, state = excluded.state)
            delete from snapshots
            where stream_id = $1 and stream_version <= $3 and not (schema = $2 and stream_version = $3)
            """, ct, snapshot.StreamId, snapshot.Schema, snapshot.Version, snapshot.Position, snapshot.StateJson);

    async Task<Snapshot?> ISnapshotStore.LoadAsync(string streamId, string schema, long maxVersion, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand(LoadSnapshotSql, rented.Connection);
        command.Parameters.Add(new() { Value = streamId });
        command.Parameters.Add(new() { Value = schema });
        command.Parameters.Add(new() { Value = maxVersion });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new Snapshot(streamId, reader.GetInt64(0), reader.GetInt64(1), schema, reader.GetString(2)) : null;
    }

    async Task ISnapshotStore.DropAllAsync(CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand("delete from snapshots", rented.Connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}
