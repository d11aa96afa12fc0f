using System.Collections.Concurrent;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using Npgsql;
using NpgsqlTypes;

namespace GrpcBank.Postgres;

/// <summary>
/// The production event store. An append is one round trip: a batch in one implicit transaction that takes
/// the transaction id, inserts the events, their outbox rows and the request-log row, and notifies the relay.
/// Readers of the global order only see positions that are settled (see <see cref="SettledPosition"/>).
/// </summary>
public sealed partial class PostgresEventStore : IEventStore, IOutbox, IDeadLetters, IAsyncDisposable
{
    public const string NotificationChannel = "grpcbank_outbox";

    private const string EventColumns =
        "e.position, e.stream_id, e.stream_version, e.event_id, e.event_type, e.data::text, e.metadata::text, e.recorded_at";

    private const string EventColumnsWithoutMetadata =
        "e.position, e.stream_id, e.stream_version, e.event_id, e.event_type, e.data::text, '{}'::text, e.recorded_at";

    // Read in this order, as separate statements: the sequence first, then an xid of our own (SettledPosition).
    // Taking an xid makes this read commit like a write; its commit record need not be flushed.
    // The sequence is named by $1 (PositionSequenceAsync): pg_get_serial_sequence searches the catalogue's dependencies on
    // every call, a sixth of what a relay read cost the server once the read itself was cheap.
    private const string LastDrawnPositionSql = "select coalesce(pg_sequence_last_value($1::regclass), 0)";

    // The outbox read after it is shaped for one generic plan (see ReadPendingAsync) and gets it here: left to choose,
    // the server planned it afresh on most calls (pg_stat_statements, 1 and 64 callers: a plan on 36–100 % of the reads,
    // ~350–480 µs each, and each execution of a custom plan 190–270 µs at 1 caller, 1,240–1,340 µs at 64, against 115–135
    // and 620–680 µs for the generic one).
    internal const string MarkSql =
        "select pg_current_xact_id(), pg_snapshot_xmin(pg_current_snapshot()), set_config('synchronous_commit', 'off', true), " +
        GenericPlans;

    // For the rest of the transaction, a prepared statement runs its one cached generic plan. The server otherwise plans
    // a statement anew on each execution whose estimated cost with the actual parameters looks lower than the generic
    // plan's, which is the case for the append and the outbox read at small groups (their arrays are estimated at 10 rows).
    private const string GenericPlans = "set_config('plan_cache_mode', 'force_generic_plan', true)";

    // A group's first statement: the transaction id (SettledPosition), and the append's generic plan. Left to choose, the
    // server planned the append afresh for every lone append in the bench's store probe: 210–230 µs of planning on each,
    // against 60–100 µs to run it (Npgsql with the same statement: 0.62–1.22 ms a lone append, 0.33–0.50 with the generic plan).
    internal const string GroupStartSql = "select pg_current_xact_id(), " + GenericPlans;

    // For a write whose loss to a crash costs only a redelivery (a relay checkpoint, a trim) or a longer fold (a snapshot): its commit does not wait for its flush.
    private const string UnsyncedCommitSql = "select set_config('synchronous_commit', 'off', true)";

    // One layer of a group: appends over distinct streams with distinct request ids (GroupLayers), $1.. numbered by
    // append. Each guard skips instead of raising, so a failed one costs only its own append: a stream not at its expected
    // version (an append at a gap is a conflict, not a hole; the first such stream in write order is named) or whose event
    // there is not the one the append expects (StreamAppend.ExpectedLastEventId). The unique keys catch a race with another
    // transaction that passes the same guard; the group is then written again. Events arrive in write order, appends in
    // the order of their first stream (LayerCommand), so one append's positions are contiguous (no other group draws
    // positions meanwhile: ContiguousPositions). The request-log row takes its append's last position.
    // Each guard is one index lookup per row. A stream's head event gives its version and its id at once; as two scalar
    // subqueries (the highest version, then the event at the expected one), a group of 1,000 one-event appends to distinct
    // streams took 40.7 ms against 36.7 (psql, generic plan, medians of 15 interleaved runs). Written as NOT EXISTS, the
    // server's generic plan turned the stream check into an anti-join over all of events, and a group's write grew with
    // the table (13 ms → 43 ms for 25 transfers within one 8-second run).
    // Request ids are not looked up (AppendLayerSql): one logged already (a retry, or another transaction's) fails the
    // statement on request_log's key, and the group is written again with CheckedAppendLayerSql, whose guard skips each
    // append with a request id logged by an earlier layer or another transaction. The lookups cost every append for the
    // sake of the rare retry: 5.3 ms of a 1,000-deposit batch's 23 ms statement (psql, generic plan). The lookup is a
    // scalar subquery: written as EXISTS, it became a hash join over a sequential scan of request_log, planned while the
    // table was small and kept as it grew: 2 ms of a lone deposit's append at 8,000 logged requests (auto_explain).
    internal static readonly string AppendLayerSql = AppendLayer(reusedRequests: "select append_no, request_id from r where false");

    internal static readonly string CheckedAppendLayerSql = AppendLayer(reusedRequests: """
        select distinct on (r.append_no) r.append_no, r.request_id from r
        where (select true from request_log l where l.request_id = r.request_id)
        order by r.append_no
        """);

    private static string AppendLayer(string reusedRequests) => $"""
        with s as (
            select * from unnest($1::int[], $2::text[], $3::bigint[], $16::uuid[]) with ordinality as s (append_no, stream_id, expected, last_id, ord)
        ), stale as (
            select distinct on (s.append_no) s.append_no, s.stream_id from s
            left join lateral (select stream_version, event_id from events where stream_id = s.stream_id order by stream_version desc limit 1) head on true
            where coalesce(head.stream_version, 0) <> s.expected or (s.last_id is not null and head.event_id is distinct from s.last_id)
            order by s.append_no, s.ord
        ), r as (
            select * from unnest($4::int[], $5::text[], $6::text[], $7::text[]) as r (append_no, request_id, fingerprint, reply)
        ), reused as (
            {reusedRequests}
        ), appended as (
            insert into events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)
            select e.stream_id, e.version, e.id, e.type, e.data::jsonb, e.metadata::jsonb, e.recorded_at
            from unnest($8::int[], $9::text[], $10::bigint[], $11::uuid[], $12::text[], $13::text[], $14::text[], $15::timestamptz[])
                with ordinality as e (append_no, stream_id, version, id, type, data, metadata, recorded_at, ord)
            where e.append_no not in (select append_no from stale) and e.append_no not in (select append_no from reused)
            order by e.ord
            returning position, stream_id
        ), last as (
            select s.append_no, max(a.position) as position from s join appended a on a.stream_id = s.stream_id group by s.append_no
        ), outboxed as (
            insert into outbox (first_position, last_position) select min(position), max(position) from appended having count(*) > 0
        ), logged as (
            insert into request_log (request_id, fingerprint, reply, position)
            select r.request_id, r.fingerprint, r.reply, l.position from r join last l on l.append_no = r.append_no
        )
        select append_no, position, null::text, null::text from last
        union all select append_no, null, stream_id, null from stale
        union all select append_no, null, null, request_id from reused where append_no not in (select append_no from stale)
        """;

    /// <summary>
    /// Appends to one stream (or with one request id) a group may chain, each written by a statement of its own after the
    /// one before (<see cref="GroupLayers"/>). With one per group, a hot account's queue advanced by one append per group
    /// commit: the Zipf workload over 200 accounts at 64 callers ran 600–1,300 commands/s with a p99 of 350–600 ms,
    /// against 2,000–2,500/s and 70–100 ms with 8 to 32 (4: 1,740/s), and uniform load the same either way.
    /// </summary>
    private const int MaxChainPerGroup = 16;

    /// <summary>Times a group is written again after losing a unique-key race (or a deadlock) to another transaction.</summary>
    private const int MaxGroupWrites = 10;

    private const string StreamVersionConstraint = "events_stream_id_stream_version_key";
    private const string RequestLogConstraint = "request_log_pkey";

    private readonly GroupCommit groups;

    private readonly NpgsqlDataSource dataSource;
    private readonly RecentConnections connections;
    private readonly string? schema;
    private readonly int autoPrepareMinUsages;
    private readonly SettledPosition settled = new();
    private readonly CompletedCheckpoints completed = new(TimeProvider.System);
    private int disposed;
    private readonly OutboxListener listener;
    private readonly OutboxNotifier notifier;
    private readonly ConcurrentDictionary<string, long> generationAtLastRead = new();

    /// <param name="schema">Where the tables live (created by <see cref="MigrateAsync"/>); default: the search path.</param>
    /// <param name="groupCommit">How concurrent appends are gathered into one transaction (default: <see cref="GroupCommitLimits.Default"/>).</param>
    public PostgresEventStore(string connectionString, string? schema = null, GroupCommitLimits? groupCommit = null)
    {
        groups = new GroupCommit(WriteGroupAsync, WroteNothing, groupCommit ?? GroupCommitLimits.Default, maxChain: MaxChainPerGroup);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (schema is not null) builder.SearchPath = PostgresMigrations.ValidSchema(schema);
        // The append and the relay's reads repeat the same few statements: let Npgsql prepare them on the server.
        if (builder.MaxAutoPrepare == 0) builder.MaxAutoPrepare = 64;
        // Pooled connections carry no session state (locks and LISTEN use their own, unpooled connections),
        // so skip the DISCARD ALL round trip each time one goes back to the pool.
        builder.NoResetOnClose = true;
        // Every statement here is short. With JIT on (PostgreSQL's default), the relay's outbox read was compiled afresh
        // on each execution whose generic plan's estimate passed jit_above_cost: over half of that read's time in the
        // batch phases (pg_stat_statements: 1.6 s of LLVM in 3.1 s). An operator's own jit setting in Options wins.
        if (builder.Options?.Contains("jit", StringComparison.Ordinal) != true) builder.Options = $"{builder.Options} -c jit=off".Trim();
        this.schema = schema;
        autoPrepareMinUsages = builder.AutoPrepareMinUsages;
        dataSource = NpgsqlDataSource.Create(builder);
        connections = new RecentConnections(dataSource);
        // Tells this store's notifications from those of other processes (and other stores in this one).
        var instance = Guid.NewGuid().ToString("N");
        listener = new OutboxListener(builder.ConnectionString, NotificationChannel, instance);
        notifier = new OutboxNotifier(connections, NotificationChannel, instance);
    }

    /// <summary>Creates the store and brings its schema up to date.</summary>
    public static async Task<PostgresEventStore> OpenAsync(
        string connectionString, string? schema, CancellationToken ct, GroupCommitLimits? groupCommit = null)
    {
        var store = new PostgresEventStore(connectionString, schema, groupCommit);
        try
        {
            await store.MigrateAsync(ct);
            return store;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    public Task MigrateAsync(CancellationToken ct) => PostgresMigrations.ApplyAsync(dataSource, schema, ct);

    /// <summary>
    /// Opens <paramref name="count"/> connections at once and has each server process read the tables' catalog
    /// entries, then keeps them for the store's next statements (<see cref="RecentConnections"/>). Otherwise the first
    /// commands after a restart pay for what a new connection costs — authentication, a new server process, its first
    /// look at every table (a restarted server's first deposit on an account took 22–55 ms in the full bench, against
    /// 6 ms warm). Each connection also runs a command's statements (the append of an empty group, a request-log lookup,
    /// a stream read, a snapshot load: none touches a row) often enough to have them prepared: concurrent statements take
    /// different connections, and a statement's first planning on a server process cost the append 8–9 ms against 3 ms
    /// once planned there.
    /// </summary>
    public async Task WarmPoolAsync(int count, CancellationToken ct)
    {
        var opened = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => connections.OpenAsync(ct).AsTask()));
        try
        {
            await Task.WhenAll(opened.Select(async rented =>
            {
                var connection = rented.Connection;
                await using var touch = new NpgsqlCommand(
                    string.Concat(new[] { "events", "outbox", "request_log", "consumer_checkpoints", "snapshots" }
                        .Select(table => $"select 1 from {table} limit 0;")), connection);
                await touch.ExecuteNonQueryAsync(ct);
                for (var use = 0; use < autoPrepareMinUsages; use++)
                {
                    await using var statements = new NpgsqlBatch(connection)
                    {
                        BatchCommands =
                        {
                            LayerCommand([], [], []), WithParameters(new(FindRequestSql), [""]), WithParameters(new(ReadStreamSql), ["", 1L, 1]),
                            WithParameters(new(LoadSnapshotSql), ["", "", 0L]),
                        },
                    };
                    await statements.ExecuteNonQueryAsync(ct);
                }
            }));
        }
        finally
        {
            foreach (var rented in opened) await rented.DisposeAsync();
        }
    }

    public IOutbox Outbox => this;

    /// <summary>
    /// Whether the one active relay is this process's (it holds the relay lease, <see cref="PostgresRelayLease.IsHeld"/>).
    /// Its appends then wake it directly and send no NOTIFY, which no relay elsewhere would be waiting for: at one caller
    /// that NOTIFY was a second transaction per append, on the same two cores. Default: never, so every append notifies.
    /// </summary>
    public Func<bool> RelaysHere { get; set; } = () => false;

    public IDeadLetters DeadLetters => this;

    /// <summary>
    /// The relay's quiet cycle over this store (<see cref="OutboxRelay.QuietCycle"/>): the busy cycle's. Each read of the
    /// outbox here is a transaction of its own in the database, on the cores the commands use, so a lone caller's commands
    /// are better gathered into fewer reads than the embedded store's 3 ms gather: at one caller, deposits' p50 2.15–2.76 →
    /// 1.49–1.64 ms, the server's CPU per deposit 1,554–1,931 → 916–1,006 µs and PostgreSQL's 955–1,218 → 617–728 µs
    /// (three interleaved rounds of <c>cost --pg</c>, with the busy cycle at 10 ms; at 25 ms, against 10, 1.26–1.46 ms
    /// against 1.49–2.11). In the embedded store, a read is in process and the same change made no difference beyond the noise.
    /// </summary>
    public static readonly TimeSpan RelayQuietCycle = OutboxRelay.DefaultBusyCycle;

    public async Task<long> HeadPositionAsync(CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand("select coalesce(max(position), 0) from events", rented.Connection);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    async Task<bool> IDeadLetters.AddAsync(string consumer, RecordedEvent e, string error, DateTimeOffset failedAt, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        // xmax is 0 on a row this statement inserted, and set on one the conflict updated: a new letter or a refreshed one.
        await using var command = new NpgsqlCommand("""
            insert into dead_letters (consumer, position, error, failed_at) values ($1, $2, $3, $4)
            on conflict (consumer, position) do update set error = excluded.error, failed_at = excluded.failed_at
            returning xmax = 0
            """, rented.Connection);
        command.Parameters.Add(new() { Value = consumer });
        command.Parameters.Add(new() { Value = e.Position });
        command.Parameters.Add(new() { Value = error });
        command.Parameters.Add(new() { Value = failedAt.ToUniversalTime() });
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    async Task<DeadLetterPage> IDeadLetters.ListAsync(long afterPosition, int maxCount, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                WithParameters(new NpgsqlBatchCommand($"""
                    select {EventColumns}, d.consumer, d.error, d.failed_at
                    from dead_letters d join events e on e.position = d.position
                    where d.position > $1 order by d.position, d.consumer limit $2
                    """), [afterPosition, maxCount]),
                new("select count(*) from dead_letters"),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(ct);
        var items = new List<DeadLetter>();
        while (await reader.ReadAsync(ct))
            items.Add(new DeadLetter(reader.GetString(8), ReadEvent(reader), reader.GetString(9), reader.GetFieldValue<DateTimeOffset>(10)));
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        return new DeadLetterPage(items, reader.GetInt64(0));
    }

    async Task IDeadLetters.RemoveAsync(string consumer, long position, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand("delete from dead_letters where consumer = $1 and position = $2", rented.Connection);
        command.Parameters.Add(new() { Value = consumer });
        command.Parameters.Add(new() { Value = position });
        await command.ExecuteNonQueryAsync(ct);
    }

    public Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken ct) => groups.AppendAsync(request, ct);

    /// <remarks>Queued with the concurrent single appends, as one unit (<see cref="GroupCommit.AppendGroupAsync"/>).</remarks>
    public Task<IReadOnlyList<AppendResult>> AppendGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct) =>
        groups.AppendGroupAsync(requests, ct);

    /// <remarks>
    /// One round trip: a batch in one implicit transaction that takes the transaction id (before any position is drawn:
    /// <see cref="SettledPosition"/>) and runs one statement per layer (<see cref="GroupLayers"/>), each seeing the
    /// layers before it. A unique-key race or a deadlock with another transaction rolls the whole group back; written
    /// again, its guards then see the winner (committed by the time the loser hears of it) and fail only the appends
    /// that lost. Any other error the database reports rolls the group back and is thrown: nothing of it was written.
    /// </remarks>
    private async Task<IReadOnlyList<AppendResult>> WriteGroupAsync(IReadOnlyList<AppendRequest> requests, CancellationToken ct)
    {
        var ordered = requests.Select(r => r.InWriteOrder()).ToList();
        var checkRequests = false;
        for (var writes = 1; ; writes++)
        {
            try
            {
                var results = await WriteGroupOnceAsync(requests, ordered, checkRequests, ct);
                if (results.Any(r => r is AppendResult.Appended))
                {
                    listener.Signal();
                    if (!RelaysHere()) notifier.Nudge();
                }
                return results;
            }
            catch (PostgresException e) when (writes < MaxGroupWrites && IsLostRace(e))
            {
                // A request id logged already: written again with the guard that fails only its append (CheckedAppendLayerSql).
                checkRequests |= e.ConstraintName == RequestLogConstraint;
            }
        }
    }

    /// <summary>The database refused the group (and rolled it back): not a lost connection, whose commit may have happened.</summary>
    private static bool WroteNothing(Exception e) => e is PostgresException { IsTransient: false };

    private static bool IsLostRace(PostgresException e) =>
        e.SqlState == PostgresErrorCodes.DeadlockDetected
        || e is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: StreamVersionConstraint or RequestLogConstraint };

    private async Task<IReadOnlyList<AppendResult>> WriteGroupOnceAsync(
        IReadOnlyList<AppendRequest> requests, IReadOnlyList<IReadOnlyList<StreamAppend>> ordered, bool checkRequests, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        var sequence = await PositionSequenceAsync(connection, ct);
        // No explicit transaction: a batch runs in one implicit transaction, so it costs one round trip. Its inserts draw
        // their positions while no other group does (ContiguousPositions).
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { new(GroupStartSql), ContiguousPositions.Take(sequence) } };
        var layers = GroupLayers.Of(requests);
        foreach (var layer in layers) batch.BatchCommands.Add(LayerCommand(requests, ordered, layer, checkRequests));
        batch.BatchCommands.Add(ContiguousPositions.GiveBack(sequence));

        var results = new AppendResult?[requests.Count];
        try
        {
            await using var reader = await batch.ExecuteReaderAsync(ct);
            await reader.NextResultAsync(ct);
            foreach (var _ in layers)
            {
                await reader.NextResultAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    var index = reader.GetInt32(0);
                    results[index] = ResultOf(requests[index], reader.IsDBNull(1) ? null : reader.GetInt64(1),
                        reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
                }
            }
            while (await reader.NextResultAsync(ct)) { }
        }
        catch
        {
            // The statements after a failure never ran, the one giving the lock back among them.
            await ContiguousPositions.ReleaseAsync(connection);
            throw;
        }
        return [.. results.Select((r, i) => r ?? throw new InvalidOperationException($"append {i} of a group got no result"))];
    }

    /// <summary>An append's result from its row: a position (written), a stale stream, or neither (a request id of it was logged).</summary>
    private static AppendResult ResultOf(AppendRequest request, long? position, string? staleStream, string? reusedRequest)
    {
        if (position is { } last)
            return new AppendResult.Appended([.. request.Streams.Select(s => new StreamVersion(s.StreamId, s.ExpectedVersion + s.Events.Count))], last);
        if (staleStream is not null)
        {
            var stale = request.Streams.First(s => s.StreamId == staleStream);
            return new AppendResult.WrongExpectedVersion(stale.StreamId, stale.ExpectedVersion);
        }
        return new AppendResult.DuplicateRequest(reusedRequest!);
    }

    internal static NpgsqlBatchCommand LayerCommand(
        IReadOnlyList<AppendRequest> requests, IReadOnlyList<IReadOnlyList<StreamAppend>> ordered, IReadOnlyList<int> layer,
        bool checkRequests = false)
    {
        // Appends in the order of their first stream (each append's streams are in order already, InWriteOrder): the groups of
        // several servers that write the same streams then take those streams' index entries in the same order and wait
        // for one another, where in submission order two of them could each hold what the other needs next: a deadlock,
        // which PostgreSQL detects only after deadlock_timeout (1 s by default) and the group is written again.
        var streams = layer.OrderBy(i => ordered[i][0].StreamId, StringComparer.Ordinal)
            .SelectMany(i => ordered[i].Select(s => (Append: i, Stream: s))).ToList();
        var logged = layer.SelectMany(i => requests[i].RequestLogEntries.Select(entry => (Append: i, Entry: entry))).ToList();
        var events = streams.SelectMany(s => s.Stream.Events.Select((e, n) =>
            (s.Append, s.Stream.StreamId, Version: s.Stream.ExpectedVersion + 1 + n, Event: e, At: requests[s.Append].RecordedAt.ToUniversalTime()))).ToList();
        return new NpgsqlBatchCommand(checkRequests ? CheckedAppendLayerSql : AppendLayerSql)
        {
            Parameters =
            {
                new() { Value = streams.Select(s => s.Append).ToArray() },
                new() { Value = streams.Select(s => s.Stream.StreamId).ToArray() },
                new() { Value = streams.Select(s => s.Stream.ExpectedVersion).ToArray() },
                new() { Value = logged.Select(l => l.Append).ToArray() },
                new() { Value = logged.Select(l => l.Entry.RequestId).ToArray() },
                new() { Value = logged.Select(l => l.Entry.Fingerprint).ToArray() },
                new() { Value = logged.Select(l => l.Entry.ReplyJson).ToArray() },
                new() { Value = events.Select(e => e.Append).ToArray() },
                new() { Value = events.Select(e => e.StreamId).ToArray() },
                new() { Value = events.Select(e => e.Version).ToArray() },
                new() { Value = events.Select(e => e.Event.EventId).ToArray() },
                new() { Value = events.Select(e => e.Event.EventType).ToArray() },
                new() { Value = events.Select(e => e.Event.DataJson).ToArray() },
                new() { Value = events.Select(e => e.Event.MetadataJson).ToArray() },
                new() { Value = events.Select(e => e.At).ToArray() },
                new() { Value = streams.Select(s => s.Stream.ExpectedLastEventId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
            },
        };
    }

    private const string ReadStreamSql =
        $"select {EventColumns} from events e where e.stream_id = $1 and e.stream_version >= $2 order by e.stream_version limit $3";

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        QueryAsync(ReadStreamSql, ct, streamId, fromVersion, maxCount);

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamBackwardAsync(string streamId, long fromVersion, int maxCount, CancellationToken ct) =>
        QueryAsync(
            $"select {EventColumns} from events e where e.stream_id = $1 and e.stream_version <= $2 order by e.stream_version desc limit $3",
            ct, streamId, fromVersion, maxCount);

    /// <remarks>
    /// Callers checkpoint by position, so this returns a prefix of the global order that is settled: no
    /// transaction still running can add a row inside it. (Filtering by <c>tx &lt; xmin</c> alone is not enough
    /// here: a transaction with a higher xid may hold a lower position, and a reader that had moved past it would
    /// never see it.) Until a mark settles, this may return fewer events than exist; call again.
    /// </remarks>
    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        ReadAllAsync(EventColumns, afterPosition, maxCount, ct);

    /// <remarks>Rendering jsonb as text is most of what a replay costs the server; metadata is as large as the payload.</remarks>
    public Task<IReadOnlyList<RecordedEvent>> ReadAllWithoutMetadataAsync(long afterPosition, int maxCount, CancellationToken ct) =>
        ReadAllAsync(EventColumnsWithoutMetadata, afterPosition, maxCount, ct);

    private async Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(string columns, long afterPosition, int maxCount, CancellationToken ct)
    {
        var (events, settledPosition, _) = await ReadWithSettledPositionAsync(ReadEvent,
            $"select {columns} from events e where e.position > $1 order by e.position limit $2", ct, afterPosition, maxCount);
        // The rows came from a snapshot taken after the one that settled the position, so none is missing below it.
        // (Usually all of them are settled: a replay's pages are then not copied once more.)
        return events.Count == 0 || events[^1].Position <= settledPosition
            ? events
            : events.TakeWhile(e => e.Position <= settledPosition).ToList();
    }

    private const string FindRequestSql = "select fingerprint, reply, position from request_log where request_id = $1";

    public async Task<bool> LogRequestAsync(RequestLogEntry request, long position, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand(LogRequestSql, rented.Connection);
        command.Parameters.Add(new() { Value = request.RequestId });
        command.Parameters.Add(new() { Value = request.Fingerprint });
        command.Parameters.Add(new() { Value = request.ReplyJson });
        command.Parameters.Add(new() { Value = position });
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    private const string LogRequestSql =
        "insert into request_log (request_id, fingerprint, reply, position) values ($1, $2, $3, $4) on conflict (request_id) do nothing";

    public async Task<LoggedRequest?> FindRequestAsync(string requestId, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand(FindRequestSql, rented.Connection);
        command.Parameters.Add(new() { Value = requestId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new LoggedRequest(requestId, reader.GetString(0), reader.GetString(1), reader.GetInt64(2))
            : null;
    }

    /// <summary>
    /// Every key in one statement: a retried batch of 8,192 commands looked up one by one cost as many round trips.
    /// </summary>
    public async Task<IReadOnlyList<LoggedRequest?>> FindRequestsAsync(IReadOnlyList<string> requestIds, CancellationToken ct)
    {
        var found = new Dictionary<string, LoggedRequest>(StringComparer.Ordinal);
        if (requestIds.Count > 0)
        {
            await using var rented = await connections.OpenAsync(ct);
            await using var command = new NpgsqlCommand(FindRequestsSql, rented.Connection);
            command.Parameters.Add(new() { Value = requestIds.Distinct(StringComparer.Ordinal).ToArray() });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                found[reader.GetString(0)] = new LoggedRequest(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3));
        }
        return [.. requestIds.Select(id => found.GetValueOrDefault(id))];
    }

    private const string FindRequestsSql = "select request_id, fingerprint, reply, position from request_log where request_id = any($1::text[])";

    /// <summary>
    /// A consumer's checkpoint (<paramref name="consumer"/> names its parameter): the later of the one written and the one
    /// completed in this process since (<see cref="CompletedCheckpoints"/>; <paramref name="completed"/> names the
    /// parameter with its position, 0 if none), or the start of the outbox for one that has none yet (real positions are > 0).
    /// </summary>
    private static string CheckpointSql(string consumer, string completed) => $"""
        checkpoint as (
            select tx, position from consumer_checkpoints where consumer = {consumer}
            union all select tx, position from events where position = {completed}
            union all select '0'::xid8, 0
            order by tx desc, position desc limit 1)
        """;

    /// <summary>
    /// A consumer's pending events ($1 the consumer, $2 how many, $3 its completed position), each with its transaction and
    /// whether outbox rows may have been left out of the page: see <c>ReadPendingAsync</c>.
    /// </summary>
    internal static readonly string PendingSql = $"""
        with {CheckpointSql("$1", "$3")}, pending as (
            select p.tx, p.first_position, coalesce(p.last_position, p.first_position) - p.first_position + 1 as span from outbox p
            where (p.tx, p.first_position) > ((select tx from checkpoint), (select position from checkpoint))
              and p.tx < pg_snapshot_xmin(pg_current_snapshot())
            order by p.tx, p.first_position limit $2
        ), page as (
            select tx from (select tx, sum(span) over (order by tx, first_position) - span as before from pending) r where before < $2)
        select {EventColumns}, o.tx, (select count(*) from pending) > (select count(*) from page) or (select count(*) from pending) = $2
        from outbox o, lateral (
            select * from events where events.position between o.first_position and coalesce(o.last_position, o.first_position) and events.tx = o.tx
            offset 0) e
        where (o.tx, o.first_position) > ((select tx from checkpoint), (select position from checkpoint))
          and o.tx < pg_snapshot_xmin(pg_current_snapshot())
          and o.tx <= (select max(tx) from page)
        order by o.tx, o.first_position
        """;

    /// <remarks>
    /// Rows of finished transactions only (<c>tx &lt; xmin</c>) after the consumer's checkpoint, ordered by (tx, position).
    /// That keeps each stream's order: a writer learns a stream's version only after the transaction that wrote it has
    /// committed, and its own append takes its xid in its first statement, after that; so a later version always has a
    /// higher xid. It is also gap-free: every transaction still to commit has an xid ≥ xmin, above the checkpoint, so its
    /// rows come after it. The watermark is the settled position S: every committed event ≤ S was written by a
    /// transaction with xid below the settling snapshot's xmin, so its row is visible here, before the checkpoint
    /// (handled) or after it (pending). An outbox row stands for the events of one append statement (positions
    /// <c>first_position</c> to <c>last_position</c> of its transaction), so a page is counted in events: rows are taken until
    /// their events reach maxCount. If no row was left out, the batch holds all pending ones; otherwise the watermark stops
    /// below the first pending row ≤ S left out. A transaction's rows are adjacent in this order and all visible at once
    /// (it has ended), so extending the page to the end of its last transaction is exact.
    ///
    /// Shaped for its generic plan, the one it always runs (<see cref="MarkSql"/>): the checkpoint enters the
    /// outbox index scans as a bound (scalar subqueries), so they start at the checkpoint, and each row's events are
    /// fetched by a range of their key (the lateral lookup, kept apart by <c>offset 0</c>). A join to the checkpoint and
    /// to <c>events</c> got a generic plan that scanned the outbox from its start and hashed all of <c>events</c> on every
    /// read: 7 ms a read under load at a few thousand events, growing with the store.
    /// </remarks>
    async Task<OutboxBatch> IOutbox.ReadPendingAsync(string consumer, int maxCount, CancellationToken ct)
    {
        // Taken before reading: an append that commits after it wakes the next wait at once.
        var generation = generationAtLastRead[consumer] = listener.Generation;
        var completedAt = completed.Of(consumer);
        // The oldest outbox rows, up to the one that brings their events to maxCount, and the rest of the transaction the last
        // of them belongs to: a batch holds whole appends.
        var (read, settledPosition, unsettled) = await ReadWithSettledPositionAsync(
            reader => (Event: ReadEvent(reader), Tx: reader.GetFieldValue<ulong>(8), RowsLeftOut: reader.GetBoolean(9)),
            PendingSql, ct, consumer, maxCount, completedAt);
        // In the outbox index's order, which the plan keeps; a row's events, fetched by a range of their key, are put in order here.
        var rows = read.Select(r => (r.Event, r.Tx)).OrderBy(r => r.Tx).ThenBy(r => r.Event.Position).ToList();
        if (read is [] or [{ RowsLeftOut: false }, ..])
            return OutboxBatch.Of(rows, settledPosition) with { WakeUpGeneration = generation, Unsettled = unsettled };

        // The rows left out are exactly those after the checkpoint in a later transaction than the batch's last: the batch
        // took every row after the checkpoint up to the end of that transaction, all committed before it was read. (Not
        // "position not in the batch's positions": against a server-prepared generic plan that compares every row with
        // every element of the array, 38 s of CPU for a 100,000-event append.)
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"""
            with {CheckpointSql("$1", "$4")}
            select coalesce(min(o.first_position), $2 + 1) - 1 from checkpoint c, outbox o
            where o.first_position <= $2 and o.tx > $3 and (o.tx, o.first_position) > (c.tx, c.position)
            """, rented.Connection);
        command.Parameters.Add(new() { Value = consumer });
        command.Parameters.Add(new() { Value = settledPosition });
        command.Parameters.Add(new() { Value = rows[^1].Item2, NpgsqlDbType = NpgsqlDbType.Xid8 });
        command.Parameters.Add(new() { Value = completedAt });
        return OutboxBatch.Of(rows, (long)(await command.ExecuteScalarAsync(ct))!) with { WakeUpGeneration = generation, Unsettled = unsettled };
    }

    async Task IOutbox.CompleteAsync(string consumer, OutboxBatch batch, CancellationToken ct)
    {
        if (batch.Events.Count > 0 && completed.Complete(consumer, batch.Events[^1].Position))
            await completed.WriteAsync(c => WriteCheckpointsAsync(c, ct), consumer);
    }

    async Task IOutbox.TrimAsync(IReadOnlyCollection<string> consumers, CancellationToken ct)
    {
        await completed.WriteAsync(c => WriteCheckpointsAsync(c, ct));
        // A consumer not named keeps its checkpoint; the events of the rows removed after it are recorded as skipped, in
        // the same statement as the removal.
        await ExecuteWithoutFlushAsync("""
            with named as (select tx, position from consumer_checkpoints where consumer = any($1)),
            slowest as (select tx, position from named order by tx, position limit 1),
            trimmed as (
                delete from outbox o using slowest s
                where (select count(*) from named) = cardinality($1) and (o.tx, o.first_position) <= (s.tx, s.position)
                returning o.tx, o.first_position)
            update consumer_checkpoints c set skipped_from = least(c.skipped_from, m.first)
            from (
                select n.consumer, (select min(t.first_position) from trimmed t where (t.tx, t.first_position) > (n.tx, n.position)) as first
                from consumer_checkpoints n where n.consumer <> all($1)) m
            where m.consumer = c.consumer and m.first is not null
            """, ct, (object)consumers.Distinct().ToArray());
    }

    async Task<long> IOutbox.CheckpointAsync(string consumer, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand("select position from consumer_checkpoints where consumer = $1", rented.Connection);
        command.Parameters.Add(new() { Value = consumer });
        return Math.Max(completed.Of(consumer), await command.ExecuteScalarAsync(ct) as long? ?? 0);
    }

    async Task<long?> IOutbox.SkippedFromAsync(string consumer, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand("select skipped_from from consumer_checkpoints where consumer = $1", rented.Connection);
        command.Parameters.Add(new() { Value = consumer });
        return await command.ExecuteScalarAsync(ct) as long?;
    }

    async Task IOutbox.SetSkippedFromAsync(string consumer, long? from, CancellationToken ct)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand("update consumer_checkpoints set skipped_from = $2 where consumer = $1", rented.Connection);
        command.Parameters.Add(new() { Value = consumer });
        command.Parameters.Add(new() { Value = (object?)from ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Writes completed checkpoints to the table; each moves only forward. The event's tx is its outbox row's: one transaction wrote both.</summary>
    private Task WriteCheckpointsAsync(IReadOnlyList<(string Consumer, long Position)> checkpoints, CancellationToken ct) =>
        ExecuteWithoutFlushAsync("""
            insert into consumer_checkpoints (consumer, tx, position)
            select c.consumer, e.tx, e.position from unnest($1::text[], $2::bigint[]) as c (consumer, position) join events e on e.position = c.position
            on conflict (consumer) do update set tx = excluded.tx, position = excluded.position
            where (consumer_checkpoints.tx, consumer_checkpoints.position) < (excluded.tx, excluded.position)
            """, ct, checkpoints.Select(c => c.Consumer).ToArray(), checkpoints.Select(c => c.Position).ToArray());

    /// <summary>
    /// One statement in an implicit transaction that commits without waiting for its WAL flush (<see cref="UnsyncedCommitSql"/>):
    /// a checkpoint, a trim or a snapshot. Losing a checkpoint or trim in a crash only redelivers events (every consumer is
    /// idempotent), losing a snapshot only lengthens a fold, and nothing can depend on one that is lost: what it records
    /// was made durable before (the sink's own writes, the snapshot's events), and any later commit that is flushed (a
    /// trim reading it) flushes it first, since the WAL is flushed in order.
    /// </summary>
    private async Task ExecuteWithoutFlushAsync(string sql, CancellationToken ct, params object[] parameters)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { new(UnsyncedCommitSql), WithParameters(new NpgsqlBatchCommand(sql), parameters) } };
        await batch.ExecuteNonQueryAsync(ct);
    }

    Task IOutbox.WaitForPendingAsync(string consumer, TimeSpan timeout, CancellationToken ct) =>
        listener.WaitAsync(timeout, generationAtLastRead.GetValueOrDefault(consumer), ct);

    Task IOutbox.WaitForPendingAsync(string consumer, OutboxBatch read, TimeSpan timeout, CancellationToken ct) =>
        read.WakeUpGeneration == 0 ? Outbox.WaitForPendingAsync(consumer, timeout, ct) : listener.WaitAsync(timeout, read.WakeUpGeneration, ct);

    /// <summary>Writes the completed checkpoints not written yet (a clean stop redelivers nothing), then closes. A second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        try
        {
            await completed.WriteAsync(c => WriteCheckpointsAsync(c, CancellationToken.None));
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The database is gone (a stopped cluster in a test, a failover): the next relay redelivers what is unwritten.
        }
        await notifier.DisposeAsync();
        await listener.DisposeAsync();
        await connections.DisposeAsync();
        await dataSource.DisposeAsync();
    }

    private string? positionSequence;

    /// <summary>The (qualified) name of the sequence that draws positions, looked up once.</summary>
    private async ValueTask<string> PositionSequenceAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        if (positionSequence is { } known) return known;
        await using var command = new NpgsqlCommand("select pg_get_serial_sequence('events', 'position')", connection);
        return positionSequence = (string)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Runs the sequence read, the mark and <paramref name="sql"/> as one batch, in that order.</summary>
    private async Task<(List<T> Rows, long SettledPosition, bool Unsettled)> ReadWithSettledPositionAsync<T>(
        Func<NpgsqlDataReader, T> read, string sql, CancellationToken ct, params object[] parameters)
    {
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                WithParameters(new NpgsqlBatchCommand(LastDrawnPositionSql), [await PositionSequenceAsync(connection, ct)]),
                new(MarkSql),
                WithParameters(new NpgsqlBatchCommand(sql), parameters),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var lastDrawn = reader.GetInt64(0);
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        var (markXid, xmin) = (reader.GetFieldValue<ulong>(0), reader.GetFieldValue<ulong>(1));
        await reader.NextResultAsync(ct);
        var rows = new List<T>();
        while (await reader.ReadAsync(ct)) rows.Add(read(reader));
        var settledPosition = settled.Observe(lastDrawn, markXid, xmin);
        return (rows, settledPosition, lastDrawn > settledPosition);
    }

    private async Task<IReadOnlyList<RecordedEvent>> QueryAsync(string sql, CancellationToken ct, params object[] parameters)
    {
        await using var rented = await connections.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, rented.Connection);
        foreach (var value in parameters) command.Parameters.Add(new() { Value = value });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await ReadEventsAsync(reader, ct);
    }

    private static NpgsqlBatchCommand WithParameters(NpgsqlBatchCommand command, object[] parameters)
    {
        foreach (var value in parameters) command.Parameters.Add(new() { Value = value });
        return command;
    }

    private static async Task<List<RecordedEvent>> ReadEventsAsync(NpgsqlDataReader reader, CancellationToken ct)
    {
        var events = new List<RecordedEvent>();
        while (await reader.ReadAsync(ct)) events.Add(ReadEvent(reader));
        return events;
    }

    private static RecordedEvent ReadEvent(NpgsqlDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetGuid(3), reader.GetString(4),
        reader.GetString(5), reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7));
}
