using GrpcBank.Application.EventStore;

namespace GrpcBank.Sqlite;

/// <summary>Snapshots of folded states, in the events file beside the events they were folded from.</summary>
public sealed partial class SqliteEventStore : ISnapshotStore
{
    // Keyed by schema too: servers of two releases may snapshot the same stream at the same version side by side.
    private const string SnapshotSchema = """
        create table if not exists snapshots (
            stream_id      text    not null,
            schema         text    not null,
            stream_version integer not null,
            position       integer not null,
            state          text    not null,
            primary key (stream_id, schema, stream_version)
        );
        """;

    // In the save's transaction: why only the newest is kept, on ISnapshotStore.SaveAsync.
    private const string PruneSnapshotsSql = """
        delete from snapshots
        where stream_id = $stream and stream_version <= $version and not (schema = $schema and stream_version = $version)
        """;

    public ISnapshotStore Snapshots => this;

    Task ISnapshotStore.SaveAsync(Snapshot snapshot, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            using var upsert = SqliteDatabase.Command(connection, tx, """
                insert into snapshots (stream_id, schema, stream_version, position, state) values ($stream, $schema, $version, $position, $state)
                on conflict (stream_id, schema, stream_version) do update set position = excluded.position, state = excluded.state
                """,
                ("$stream", snapshot.StreamId), ("$schema", snapshot.Schema), ("$version", snapshot.Version),
                ("$position", snapshot.Position), ("$state", snapshot.StateJson));
            upsert.ExecuteNonQuery();
            using var prune = SqliteDatabase.Command(connection, tx, PruneSnapshotsSql,
                ("$stream", snapshot.StreamId), ("$schema", snapshot.Schema), ("$version", snapshot.Version));
            return prune.ExecuteNonQuery();
        }, ct, synced: false); // a cache of durable events: lost only to a power cut, which costs a longer fold

    Task<Snapshot?> ISnapshotStore.LoadAsync(string streamId, string schema, long maxVersion, CancellationToken ct) =>
        Task.FromResult(db.Read<Snapshot?>((connection, tx) =>
        {
            using var command = SqliteDatabase.Command(connection, tx, """
                select stream_version, position, state from snapshots
                where stream_id = $stream and schema = $schema and stream_version <= $max
                order by stream_version desc limit 1
                """, ("$stream", streamId), ("$schema", schema), ("$max", maxVersion));
            using var reader = command.ExecuteReader();
            return reader.Read() ? new Snapshot(streamId, reader.GetInt64(0), reader.GetInt64(1), schema, reader.GetString(2)) : null;
        }));

    Task ISnapshotStore.DropAllAsync(CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            using var delete = SqliteDatabase.Command(connection, tx, "delete from snapshots");
            return delete.ExecuteNonQuery();
        }, ct);
}
