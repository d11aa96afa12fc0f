using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace GrpcBank.Sqlite;

/// <summary>The embedded event store. Commits are serialised, so positions become visible in order.</summary>
public sealed partial class SqliteEventStore : IEventStore, IOutbox, IDeadLetters, IDisposable
{
    private const string Schema = """
        create table if not exists events (
            position       integer primary key autoincrement,
            stream_id      text    not null,
            stream_version integer not null,
            event_id       text    not null unique,
            event_type     text    not null,
            data           text    not null,
            metadata       text    not null,
            recorded_at    integer not null, -- microseconds since the Unix epoch, UTC
            unique (stream_id, stream_version)
        );
        -- A row stands for the events one append wrote: from its position to last_of_append, so a relay batch holds whole
        -- appends (null in rows written before it existed: each such row is taken as an append of its own).
        create table if not exists outbox (
            position       integer primary key references events (position),
            last_of_append integer
        );
        create table if not exists dead_letters (
            consumer  text    not null,
            position  integer not null references events (position),
            error     text    not null,
            failed_at integer not null,
            primary key (consumer, position)
        );
        -- Each relay consumer's checkpoint: the last outbox position it has handled; and where the events start whose
        -- rows were trimmed past it while it was switched off (IOutbox.SkippedFromAsync).
        create table if not exists consumer_checkpoints (
            consumer     text    primary key,
            position     integer not null,
            skipped_from integer
        );
        create table if not exists request_log (
            request_id  text    primary key,
            fingerprint text    not null,
            reply       text    not null,
            position    integer not null references events (position)
        );
        """;

    private const string EventColumns =
        "e.position, e.stream_id, e.stream_version, e.event_id, e.event_type, e.data, e.metadata, e.recorded_at";

    private readonly SqliteDatabase db;
    private readonly WakeUp appended = new();
    private readonly GroupCommit groups;
    private readonly ConcurrentDictionary<string, long> generationAtLastRead = new();
    private readonly CompletedCheckpoints completed = new(TimeProvider.System);

    /// <param name="groupCommit">How concurrent appends are gathered into one transaction (default: <see cref="GroupCommitLimits.Default"/>).</param>
    public SqliteEventStore(string path, GroupCommitLimits? groupCommit = null)
    {
        // One writer at a time in SQLite: a second group in flight would only wait for the first's lock.
        groups = new GroupCommit(WriteGroupAsync, e => e is SqliteException, (groupCommit ?? GroupCommitLimits.Default) with { MaxGroupsInFlight = 1 });
        db = new SqliteDatabase(path, Schema);
        using var connection = db.Open();
        using var column = connection.CreateCommand();
        column.CommandText = "select count(*) from pragma_table_info('outbox') where name = 'last_of_append'";
        if ((long)column.ExecuteScalar()! == 0) SqliteDatabase.Execute(connection, "alter table outbox add column last_of_append integer");
        column.CommandText = "select count(*) from pragma_table_info('consumer_checkpoints') where name = 'skipped_from'";
        if ((long)column.ExecuteScalar()! == 0) SqliteDatabase.Execute(connection, "alter table consumer_checkpoints add column skipped_from integer");
        // Rows written while an append had a row per event, each naming its append's last event: the first of them now
        // stands for the whole append, the rest go. (Checkpoints lie at the ends of appends: a batch holds whole ones.)
        SqliteDatabase.Execute(connection, """
            delete from outbox where position in (
                select position from (
                    select position, row_number() over (partition by last_of_append order by position) as n from outbox where last_of_append is not null)
                where n > 1)
            """);
        SqliteDatabase.Execute(connection, SnapshotSchema);
    }

    public IOutbox Outbox => this;

    public IDeadLetters DeadLetters => this;

    public Task<long> HeadPositionAsync(CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            using var head = SqliteDatabase.Command(connection, tx, "select coalesce(max(position), 0) from events");
            return (long)head.ExecuteScalar()!;
        }));

    Task<bool> IDeadLetters.AddAsync(string consumer, RecordedEvent e, string error, DateTimeOffset failedAt, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            (string Name, object? Value)[] parameters = [("$consumer", consumer), ("$position", e.Position), ("$error", error), ("$at", ToMicros(failedAt))];
            // An upsert counts an update as a change too: inserting apart is what tells a new letter from a refreshed one.
            using var insert = SqliteDatabase.Command(connection, tx, """
                insert into dead_letters (consumer, position, error, failed_at) values ($consumer, $position, $error, $at)
                on conflict (consumer, position) do nothing
                """, parameters);
            if (insert.ExecuteNonQuery() > 0) return true;
            using var refresh = SqliteDatabase.Command(connection, tx,
                "update dead_letters set error = $error, failed_at = $at where consumer = $consumer and position = $position", parameters);
            refresh.ExecuteNonQuery();
            return false;
        }, ct);

    Task<DeadLetterPage> IDeadLetters.ListAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            using var command = SqliteDatabase.Command(connection, tx, $"""
                select {EventColumns}, d.consumer, d.error, d.failed_at
                from dead_letters d join events e on e.position = d.position
                where d.position > $after order by d.position, d.consumer limit $max
                """, ("$after", afterPosition), ("$max", maxCount));
            using var reader = command.ExecuteReader();
            var items = new List<DeadLetter>();
            while (reader.Read())
                items.Add(new DeadLetter(reader.GetString(8), ReadEvent(reader), reader.GetString(9), FromMicros(reader.GetInt64(10))));
            using var count = SqliteDatabase.Command(connection, tx, "select count(*) from dead_letters");
            return new DeadLetterPage(items, (long)count.ExecuteScalar()!);
        }));

    Task IDeadLetters.RemoveAsync(string consumer, long position, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            using var delete = SqliteDatabase.Command(connection, tx,
                "delete from dead_letters where consumer = $consumer and position = $position", ("$consumer", consumer), ("$position", position));
            return delete.ExecuteNonQuery();
        }, ct);

    public Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct) => groups.AppendAsync(request, ct);

    /// <remarks>Queued with the concurrent single appends, as one unit (<see cref="GroupCommit.AppendGroupAsync"/>).</remarks>
    public Task<IReadOnlyList<AppendResult>> AppendGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct) =>
        groups.AppendGroupAsync(requests, ct);

    /// <remarks>
    /// One <c>BEGIN IMMEDIATE</c> … <c>COMMIT</c> for the group (one fsync). We are the only writer, so each append's
    /// guards, checked before it writes, see everything stored and every append before it in the group: a failed guard
    /// writes nothing and costs only its own append. An error SQLite raises rolls the group back and is thrown: nothing
    /// of it was written.
    /// </remarks>
    private async Task<IReadOnlyList<AppendResult>> WriteGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct)
    {
        var ordered = requests.Select(r => r.InWriteOrder()).ToList();
        var results = await db.WriteAsync<IReadOnlyList<AppendResult>>(
            (connection, tx) => [.. requests.Select((request, i) => AppendOne(connection, tx, request, ordered[i]))], ct);
        if (results.Any(r => r is AppendResult.Appended)) appended.Signal();
        return results;
    }

    private static AppendResult AppendOne(SqliteConnection connection, SqliteTransaction tx, AppendRequest request, IReadOnlyList<StreamAppend> streams)
    {
        // We are the only writer (BEGIN IMMEDIATE), so checking first is as good as a constraint.
        foreach (var stream in streams)
        {
            if ((long)Scalar(connection, tx, "select coalesce(max(stream_version), 0) from events where stream_id = $stream", ("$stream", stream.StreamId))!
                != stream.ExpectedVersion
                || (stream.ExpectedLastEventId is { } last && (string?)Scalar(connection, tx,
                    "select event_id from events where stream_id = $stream and stream_version = $version",
                    ("$stream", stream.StreamId), ("$version", stream.ExpectedVersion)) != last.ToString()))
                return new AppendResult.WrongExpectedVersion(stream.StreamId, stream.ExpectedVersion);
        }
        foreach (var requested in request.RequestLogEntries)
        {
            if ((long)Scalar(connection, tx, "select count(*) from request_log where request_id = $id", ("$id", requested.RequestId))! > 0)
                return new AppendResult.DuplicateRequest(requested.RequestId);
        }

        var positions = new List<long>();
        var recordedAt = ToMicros(request.RecordedAt);
        foreach (var stream in streams)
        {
            var streamVersion = stream.ExpectedVersion;
            foreach (var e in stream.Events)
            {
                positions.Add((long)Scalar(connection, tx, """
                    insert into events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)
                    values ($stream, $version, $id, $type, $data, $metadata, $at)
                    returning position
                    """,
                    ("$stream", stream.StreamId), ("$version", ++streamVersion), ("$id", e.EventId.ToString()),
                    ("$type", e.EventType), ("$data", e.DataJson), ("$metadata", e.MetadataJson), ("$at", recordedAt))!);
            }
        }
        var position = positions[^1];
        // One outbox row for the append (a transfer writes four events): we are the only writer, so every event between
        // its first and last position is this append's.
        Scalar(connection, tx, "insert into outbox (position, last_of_append) values ($first, $last)", ("$first", positions[0]), ("$last", position));

        foreach (var logged in request.RequestLogEntries)
        {
            Scalar(connection, tx, "insert into request_log (request_id, fingerprint, reply, position) values ($id, $fingerprint, $reply, $position)",
                ("$id", logged.RequestId), ("$fingerprint", logged.Fingerprint), ("$reply", logged.ReplyJson), ("$position", position));
        }
        return new AppendResult.Appended(
            [.. request.Streams.Select(s => new StreamVersion(s.StreamId, s.ExpectedVersion + s.Events.Count))], position);
    }

    /// <summary>Runs a statement of an append, prepared once for the writer connection (<see cref="PreparedStatements"/>); its first column, if any.</summary>
    private static object? Scalar(SqliteConnection connection, SqliteTransaction tx, string sql, params (string, object?)[] parameters) =>
        PreparedStatements.Scalar(connection, tx, sql, parameters);

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        Task.FromResult(Query(
            $"select {EventColumns} from events e where e.stream_id = $stream and e.stream_version >= $from order by e.stream_version limit $max",
            ("$stream", streamId), ("$from", fromVersion), ("$max", maxCount)));

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        Task.FromResult(Query(
            $"select {EventColumns} from events e where e.stream_id = $stream and e.stream_version <= $from order by e.stream_version desc limit $max",
            ("$stream", streamId), ("$from", fromVersion), ("$max", maxCount)));

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        Task.FromResult(Query(
            $"select {EventColumns} from events e where e.position > $after order by e.position limit $max",
            ("$after", afterPosition), ("$max", maxCount)));

    public Task<bool> LogRequestAsync(RequestLogEntry request, long position, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            using var insert = SqliteDatabase.Command(connection, tx, """
                insert into request_log (request_id, fingerprint, reply, position) values ($id, $fingerprint, $reply, $position)
                on conflict (request_id) do nothing
                """, ("$id", request.RequestId), ("$fingerprint", request.Fingerprint), ("$reply", request.ReplyJson), ("$position", position));
            return insert.ExecuteNonQuery() == 1;
        }, ct);

    public Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct) =>
        Task.FromResult(db.Read<LoggedRequest?>((connection, tx) =>
        {
            using var command = SqliteDatabase.Command(connection, tx,
                "select fingerprint, reply, position from request_log where request_id = $id", ("$id", requestId));
            using var reader = command.ExecuteReader();
            return reader.Read() ? new LoggedRequest(requestId, reader.GetString(0), reader.GetString(1), reader.GetInt64(2)) : null;
        }));

    Task<OutboxBatch> IOutbox.ReadPendingAsync(string consumer, int maxCount, CancellationToken ct)
    {
        // Taken before reading: an append that commits after it wakes the next wait at once.
        var generation = generationAtLastRead[consumer] = appended.Generation;
        return Task.FromResult(db.Read((connection, tx) =>
        {
            // The oldest appends after the checkpoint, up to the one that brings their events to maxCount.
            using var command = SqliteDatabase.Command(connection, tx, $"""
                with checkpoint as (
                    select max(coalesce(max(position), 0), $completed) as position from consumer_checkpoints where consumer = $consumer),
                pending as (
                    select position, coalesce(last_of_append, position) as last from outbox
                    where position > (select position from checkpoint) order by position limit $max),
                page as (
                    select last from (select last, sum(last - position + 1) over (order by position) - (last - position + 1) as before from pending)
                    where before < $max)
                select {EventColumns}, coalesce(o.last_of_append, o.position)
                from outbox o join events e on e.position between o.position and coalesce(o.last_of_append, o.position)
                where o.position > (select position from checkpoint) and o.position <= (select max(last) from page)
                order by e.position
                """, ("$consumer", consumer), ("$max", maxCount), ("$completed", completed.Of(consumer)));
            using var reader = command.ExecuteReader();
            var rows = new List<(RecordedEvent, long)>();
            while (reader.Read()) rows.Add((ReadEvent(reader), reader.GetInt64(8)));
            // Commits are serialised, so nothing can appear below the newest committed position later:
            // once the pending rows are handled, everything up to it is.
            using var head = SqliteDatabase.Command(connection, tx, "select coalesce(max(position), 0) from events");
            var watermark = rows.Count >= maxCount ? rows[^1].Item1.Position : (long)head.ExecuteScalar()!;
            return OutboxBatch.Of(rows, watermark) with { WakeUpGeneration = generation };
        }));
    }

    async Task IOutbox.CompleteAsync(string consumer, OutboxBatch batch, CancellationToken ct)
    {
        if (batch.Events.Count > 0 && completed.Complete(consumer, batch.Events[^1].Position))
            await completed.WriteAsync(c => WriteCheckpointsAsync(c, ct), consumer);
    }

    async Task IOutbox.TrimAsync(IReadOnlyCollection<string> consumers, CancellationToken ct)
    {
        await completed.WriteAsync(c => WriteCheckpointsAsync(c, ct));
        await db.WriteAsync((connection, tx) =>
        {
            var names = JsonSerializer.Serialize(consumers.Distinct().ToArray());
            using var slowest = SqliteDatabase.Command(connection, tx, """
                select case when count(*) = (select count(*) from json_each($names)) then min(position) end
                from consumer_checkpoints where consumer in (select value from json_each($names))
                """, ("$names", names));
            if (slowest.ExecuteScalar() is not long limit) return 0;
            // A consumer not named keeps its checkpoint; the events of the rows removed after it are recorded as skipped.
            using var skipped = SqliteDatabase.Command(connection, tx, """
                update consumer_checkpoints as c set skipped_from = min(coalesce(c.skipped_from, m.first), m.first)
                from (
                    select n.consumer, (select min(o.position) from outbox o where o.position > n.position and o.position <= $limit) as first
                    from consumer_checkpoints n where n.consumer not in (select value from json_each($names))) as m
                where m.consumer = c.consumer and m.first is not null
                """, ("$names", names), ("$limit", limit));
            skipped.ExecuteNonQuery();
            using var delete = SqliteDatabase.Command(connection, tx, "delete from outbox where position <= $limit", ("$limit", limit));
            return delete.ExecuteNonQuery();
        }, ct);
    }

    Task<long> IOutbox.CheckpointAsync(string consumer, CancellationToken ct) =>
        Task.FromResult(Math.Max(completed.Of(consumer), db.Read((connection, tx) =>
        {
            using var select = SqliteDatabase.Command(connection, tx, "select position from consumer_checkpoints where consumer = $consumer", ("$consumer", consumer));
            return select.ExecuteScalar() as long? ?? 0;
        })));

    Task<long?> IOutbox.SkippedFromAsync(string consumer, CancellationToken ct) =>
        Task.FromResult(db.Read((connection, tx) =>
        {
            using var select = SqliteDatabase.Command(connection, tx, "select skipped_from from consumer_checkpoints where consumer = $consumer", ("$consumer", consumer));
            return select.ExecuteScalar() as long?;
        }));

    Task IOutbox.SetSkippedFromAsync(string consumer, long? from, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            using var update = SqliteDatabase.Command(connection, tx,
                "update consumer_checkpoints set skipped_from = $from where consumer = $consumer", ("$consumer", consumer), ("$from", from));
            return update.ExecuteNonQuery();
        }, ct);

    /// <summary>Writes completed checkpoints (<see cref="CompletedCheckpoints"/>); each moves only forward.</summary>
    private Task WriteCheckpointsAsync(IReadOnlyList<(string Consumer, long Position)> checkpoints, CancellationToken ct) =>
        db.WriteAsync((connection, tx) =>
        {
            foreach (var (consumer, position) in checkpoints)
            {
                using var upsert = SqliteDatabase.Command(connection, tx, """
                    insert into consumer_checkpoints (consumer, position) values ($consumer, $last)
                    on conflict (consumer) do update set position = excluded.position where excluded.position > consumer_checkpoints.position
                    """, ("$consumer", consumer), ("$last", position));
                upsert.ExecuteNonQuery();
            }
            return 0;
        }, ct, synced: false); // lost only to a power cut, which costs a redelivery (SqliteDatabase.WriteAsync)

    Task IOutbox.WaitForPendingAsync(string consumer, TimeSpan timeout, CancellationToken ct) =>
        appended.WaitAsync(timeout, ct, generationAtLastRead.GetValueOrDefault(consumer));

    Task IOutbox.WaitForPendingAsync(string consumer, OutboxBatch read, TimeSpan timeout, CancellationToken ct) =>
        read.WakeUpGeneration == 0 ? Outbox.WaitForPendingAsync(consumer, timeout, ct) : appended.WaitAsync(timeout, ct, read.WakeUpGeneration);

    private IReadOnlyList<RecordedEvent> Query(string sql, params (string, object?)[] parameters) =>
        db.Read((connection, tx) => Read(connection, tx, sql, parameters));

    private static List<RecordedEvent> Read(SqliteConnection connection, SqliteTransaction tx, string sql, params (string, object?)[] parameters)
    {
        using var command = SqliteDatabase.Command(connection, tx, sql, parameters);
        using var reader = command.ExecuteReader();
        var events = new List<RecordedEvent>();
        while (reader.Read()) events.Add(ReadEvent(reader));
        return events;
    }

    private static RecordedEvent ReadEvent(SqliteDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), Guid.Parse(reader.GetString(3)),
        reader.GetString(4), reader.GetString(5), reader.GetString(6), FromMicros(reader.GetInt64(7)));

    public static long ToMicros(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;

    public static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * TimeSpan.TicksPerMicrosecond);

    /// <summary>Writes the completed checkpoints not written yet (a clean stop redelivers nothing), then lets the file go.</summary>
    public void Dispose()
    {
        try
        {
            completed.WriteAsync(c => WriteCheckpointsAsync(c, CancellationToken.None)).GetAwaiter().GetResult();
        }
        catch (SqliteException)
        {
            // The file is gone or unwritable: the next relay redelivers what is unwritten.
        }
        db.Dispose();
    }
}
