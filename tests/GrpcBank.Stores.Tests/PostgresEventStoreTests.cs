using GrpcBank.Application.EventStore;
using GrpcBank.Application.Relay;
using GrpcBank.Postgres;
using Microsoft.Extensions.Logging.Abstractions;
using GrpcBank.Testing;
using Npgsql;
using static GrpcBank.Stores.Tests.TestEvents;

namespace GrpcBank.Stores.Tests;

/// <summary>What only PostgreSQL can get wrong: concurrent writers, late commits, rollbacks, concurrent start-ups.</summary>
// One collection with the other class on the shared cluster: PostgresEventStoreTests hold transactions open, and while
// one is open no position after it settles in any database of the cluster, so a relay test running beside it times out.
[Collection("PostgreSQL event store")]
public sealed partial class PostgresEventStoreTests(PostgresServer server) : IAsyncLifetime
{
    private readonly string schema = $"t_{Guid.NewGuid():N}";
    private readonly List<PostgresEventStore> stores = [];
    private string connectionString = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() =>
        connectionString = new NpgsqlConnectionStringBuilder(await server.DatabaseForClassAsync(GetType())) { SearchPath = schema }.ConnectionString;

    public async ValueTask DisposeAsync()
    {
        foreach (var store in stores) await store.DisposeAsync();
    }

    [Fact]
    public async Task HundredConcurrentWritersAtTheSameVersion_OneWins_AndEveryLoserSeesWrongExpectedVersion()
    {
        var store = await OpenStoreAsync();
        await store.AppendAsync(Append("account-1", 0, Event(), Event(), Event(), Event(), Event()), Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 100)
            .Select(_ => Task.Run(() => store.AppendAsync(Append("account-1", 5, Event()), Ct), Ct)));

        Assert.Equal(6, Assert.Single(results.OfType<AppendResult.Appended>()).Version);
        Assert.Equal(99, results.Count(r => r == new AppendResult.WrongExpectedVersion("account-1", 5)));
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], (await store.ReadStreamAsync("account-1", 1, 1000, Ct)).Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task TwoServersLoggingTheSameRequestIdsAtOnce_WriteEachRequestOnce_AndTheOtherHearsItIsADuplicate()
    {
        // The append does not look request ids up: the loser of each race fails its statement on the log's key, and its
        // group is written again with the lookups. Each server's groups also carry requests of their own, which must be written.
        var (one, two) = (await OpenStoreAsync(), await OpenStoreAsync());
        AppendRequest Write(string server, int i, string requestId) => new($"account-{server}-{i}", 0, [Event()], Request(requestId), RecordedAt);

        var raced = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
        {
            var shared = $"shared-{i}";
            var (a, b) = (one.AppendAsync(Write("one", i, shared), Ct), two.AppendAsync(Write("two", i, shared), Ct));
            var (own1, own2) = (one.AppendAsync(Write("one-own", i, $"one-{i}"), Ct), two.AppendAsync(Write("two-own", i, $"two-{i}"), Ct));
            return (Shared: new[] { await a, await b }, Own: new[] { await own1, await own2 }, Id: shared);
        }, Ct)));

        foreach (var (shared, own, id) in raced)
        {
            var winner = Assert.IsType<AppendResult.Appended>(Assert.Single(shared, r => r is AppendResult.Appended));
            Assert.Equal(new AppendResult.DuplicateRequest(id), Assert.Single(shared, r => r is not AppendResult.Appended));
            Assert.Equal(winner.Position, (await one.FindRequestAsync(id, Ct))!.Position);
            Assert.All(own, r => Assert.IsType<AppendResult.Appended>(r));
        }
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        Assert.Equal(40L + 80L, await ScalarAsync(connection, "select count(*) from events"));
        Assert.Equal(40L + 80L, await ScalarAsync(connection, "select count(*) from request_log"));
    }

    [Fact]
    public async Task ConcurrentWritersThatRetryOnConflict_WriteEachVersionExactlyOnce()
    {
        var store = await OpenStoreAsync();
        var written = new System.Collections.Concurrent.ConcurrentBag<Guid>();

        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
        {
            for (var appended = 0; appended < 10;)
            {
                var head = await store.ReadStreamBackwardAsync("account-1", long.MaxValue, 1, Ct);
                var e = Event();
                if (await store.AppendAsync(Append("account-1", head.Count == 0 ? 0 : head[0].StreamVersion, e), Ct) is AppendResult.Appended)
                {
                    written.Add(e.EventId);
                    appended++;
                }
            }
        }, Ct)));

        var stream = await store.ReadStreamAsync("account-1", 1, 1000, Ct);
        Assert.Equal(Enumerable.Range(1, 100).Select(v => (long)v), stream.Select(e => e.StreamVersion));
        Assert.Equal(written.Order(), stream.Select(e => e.EventId).Order());
    }

    [Fact]
    public async Task ALowerPositionHeldOpen_KeepsAHigherCommittedOneBack_AndAfterItCommitsNothingIsLost()
    {
        var store = await OpenStoreAsync();
        await using var slow = await BeginWithXidAsync();
        var low = await InsertEventAsync(slow.Connection, "account-slow");

        var high = ((AppendResult.Appended)await store.AppendAsync(Append("account-fast", 0, Event()), Ct)).Position;

        Assert.True(high > low);
        for (var look = 0; look < 3; look++)
        {
            Assert.DoesNotContain(await store.ReadAllAsync(0, 100, Ct), e => e.Position >= low);
            var batch = await store.Outbox.ReadPendingAsync("test", 100, Ct);
            Assert.DoesNotContain(batch.Events, e => e.Position == high);
            Assert.True(batch.Watermark < low, $"watermark {batch.Watermark} passed the open position {low}");
            await Task.Delay(100, Ct);
        }

        await slow.CommitAsync();
        var last = ((AppendResult.Appended)await store.AppendAsync(Append("account-slow", 1, Event()), Ct)).Position;

        var delivered = await store.DrainOutboxAsync(last);
        Assert.Equal([low, high, last], delivered.Select(e => e.Position).Order());
        Assert.Equal([1L, 2L], delivered.Where(e => e.StreamId == "account-slow").Select(e => e.StreamVersion));
        Assert.Equal([low, high, last], (await store.ReadAllUntilAsync(0, last)).Select(e => e.Position));
    }

    [Fact]
    public async Task AnAppendCommittedBehindAnOlderOpenTransaction_IsDeliveredWhenThatEnds_WithoutAnotherWakeUpOrPoll()
    {
        // Any older transaction holds the settled position back (xmin is the cluster's: another database's will do, as
        // other test classes' did on CI). The append's wake-up comes while its row is held back; the relay's next poll
        // is an hour away, and nothing else is appended: only the relay's settle look can deliver it.
        var store = await OpenStoreAsync();
        await using var open = await BeginWithXidAsync();
        var position = ((AppendResult.Appended)await store.AppendAsync(Append("account-1", 0, Event()), Ct)).Position;
        var sink = new CountingSink();
        var relay = new OutboxRelay(store, [sink], new InProcessRelayLease(), new RelayProgress(), TimeProvider.System, NullLogger<OutboxRelay>.Instance)
        {
            PollInterval = TimeSpan.FromHours(1),
        };
        await relay.StartAsync(Ct);
        try
        {
            await Task.Delay(300, Ct);
            Assert.True(sink.Watermark < position, "delivered past an open older transaction");
            Assert.True((await store.Outbox.ReadPendingAsync("probe", 10, Ct)).Unsettled);

            await open.RollbackAsync();

            await EventStoreProbes.Eventually(() => Task.FromResult(sink.Watermark >= position));
            Assert.Equal([position], sink.Positions);
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
    }

    private sealed class CountingSink : IEventSink
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<long> positions = new();
        private long watermark;

        public string Name => "counting";

        public long Watermark => Interlocked.Read(ref watermark);

        public IReadOnlyList<long> Positions => [.. positions];

        public Task HandleAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
        {
            foreach (var e in events) positions.Enqueue(e.Position);
            Interlocked.Exchange(ref this.watermark, watermark);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task AnOlderTransactionCommittingAHigherPosition_IsDelivered_ButTheWatermarkStaysBelowTheOpenLowerPosition()
    {
        // Older by xid, higher by position: "tx < xmin" lets it through while the lower position is still open.
        var store = await OpenStoreAsync();
        await using var older = await BeginWithXidAsync();
        await using var younger = await BeginWithXidAsync();
        var low = await InsertEventAsync(younger.Connection, "account-young");
        var high = await InsertEventAsync(older.Connection, "account-old");
        await older.CommitAsync();

        var batch = await store.PendingAsync(100, count: 1);

        Assert.Equal([high], batch.Events.Select(e => e.Position));
        Assert.True(batch.Watermark < low, $"watermark {batch.Watermark} passed the open position {low}");
        Assert.DoesNotContain(await store.ReadAllAsync(0, 100, Ct), e => e.Position >= low);

        await store.Outbox.CompleteAsync("test", batch, Ct);
        await younger.CommitAsync();
        Assert.Equal([low], (await store.DrainOutboxAsync(high)).Select(e => e.Position));
        Assert.Equal([low, high], (await store.ReadAllUntilAsync(0, high)).Select(e => e.Position));
    }

    [Fact]
    public async Task AnOutboxRowSpanningAnotherTransactionsEvent_DeliversOnlyItsOwnTransactionsEvents_EachOnce()
    {
        // One outbox row stands for every event of an append statement, from its first position to its last. Another
        // transaction (an append through another server) may draw a position in between: not this row's to deliver.
        var store = await OpenStoreAsync();
        await using var spanning = await BeginWithXidAsync();
        await using var between = await BeginWithXidAsync();
        var low = await InsertEventAsync(spanning.Connection, "account-spanning", 1, ownOutboxRow: false);
        var middle = await InsertEventAsync(between.Connection, "account-between");
        var high = await InsertEventAsync(spanning.Connection, "account-spanning", 2, ownOutboxRow: false);
        await ScalarAsync(spanning.Connection, "insert into outbox (first_position, last_position) values ($1, $2)", low, high);
        await between.CommitAsync();
        await spanning.CommitAsync();

        // A page of one event takes the spanning row whole (its transaction is the older), and leaves the other out.
        var batch = await store.PendingAsync(1, count: 2);

        Assert.Equal([[low, high]], batch.Appends.Select(a => a.Select(e => e.Position).ToList()));
        Assert.True(batch.Watermark < middle, $"watermark {batch.Watermark} passed the undelivered {middle}");
        Assert.Equal([middle], (await store.DrainOutboxAsync(high, batch)).Select(e => e.Position));
    }

    [Theory]
    [InlineData("insert into outbox (position) values (1)")]
    [InlineData("select o.position from outbox o order by o.tx, o.position")]
    public async Task AnEarlierReleasesOutboxWriteAndRead_FailAgainstTheMigratedSchema_InsteadOfTakingARowForOneEvent(string earlierStatement)
    {
        // An earlier release took an outbox row for its own event only: its relay, reading a row of many, would deliver
        // the first and let its checkpoint pass the rest. The column it names is gone, so it fails and loses nothing.
        await OpenStoreAsync();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);

        var refused = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(connection, earlierStatement));

        Assert.Equal(PostgresErrorCodes.UndefinedColumn, refused.SqlState);
    }

    [Fact]
    public async Task ADatabaseMigratedByTheFirstFormOfMigration006_GetsItsOutboxColumnRenamed_AndAppendsAndDeliversAgain()
    {
        // The first form of 006 kept the outbox column `position`; the server names first_position. Such a database
        // recorded 006 as applied, so only a later migration can rename it.
        await OpenStoreAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync(Ct);
            await ScalarAsync(connection, "alter table outbox rename column first_position to position");
            await ScalarAsync(connection, "delete from schema_migrations where version >= '008'");
        }

        var store = await OpenStoreAsync();
        var appended = (AppendResult.Appended)await store.AppendAsync(Append("account-1", 0, Event(), Event()), Ct);

        Assert.Equal([1L, 2L], (await store.DrainOutboxAsync(appended.Position)).Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task AFailedAppend_IsRolledBack_LeavingNoEventOutboxRowOrRequestLogRow_AndNoHoldUp()
    {
        var store = await OpenStoreAsync();
        var reused = Event();
        await store.AppendAsync(Append("account-1", 0, reused), Ct);

        await Assert.ThrowsAsync<PostgresException>(() =>
            store.AppendAsync(Append("account-2", 0, Event(), reused) with { Request = Request("req-1") }, Ct));

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        Assert.Equal(1L, await ScalarAsync(connection, "select count(*) from events"));
        Assert.Equal(1L, await ScalarAsync(connection, "select count(*) from outbox"));
        Assert.Equal(0L, await ScalarAsync(connection, "select count(*) from request_log"));
        // The rollback burnt positions; the hole must never hold the relay back.
        var next = ((AppendResult.Appended)await store.AppendAsync(Append("account-2", 0, Event()), Ct)).Position;
        Assert.True(next > 3);
        Assert.Equal(["account-1", "account-2"], (await store.DrainOutboxAsync(next)).Select(e => e.StreamId));
        Assert.Equal(["account-1", "account-2"], (await store.ReadAllUntilAsync(0, next)).Select(e => e.StreamId));
    }

    [Fact]
    public async Task AMultiStreamAppendWhoseBackendIsTerminatedMidTransaction_LeavesNothing_AndHoldsNothingUp()
    {
        var store = await OpenStoreAsync();
        await using var admin = new NpgsqlConnection(connectionString);
        await admin.OpenAsync(Ct);
        // Holds the append inside its transaction after both streams' events are in, at the request-log row.
        await ScalarAsync(admin, """
            create function stall() returns trigger language plpgsql as $$ begin perform pg_sleep(60); return new; end $$;
            create trigger stall_request_log before insert on request_log for each row execute function stall();
            """);

        var append = Task.Run(() => store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Event(), Event()]), new StreamAppend("account-b", 0, [Event()])], Request("transfer-1"), RecordedAt), Ct), Ct);
        const string stalled = "select pid from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'";
        object? pid = null;
        await EventStoreProbes.Eventually(async () => (pid = await ScalarAsync(admin, stalled)) is int);
        Assert.Equal(0L, await ScalarAsync(admin, "select count(*) from events")); // not visible before commit, of course
        await ScalarAsync(admin, "select pg_terminate_backend($1)", pid!);

        await Assert.ThrowsAnyAsync<Exception>(() => append);
        await ScalarAsync(admin, "drop trigger stall_request_log on request_log");
        Assert.Equal(0L, await ScalarAsync(admin, "select count(*) from events"));
        Assert.Equal(0L, await ScalarAsync(admin, "select count(*) from outbox"));
        Assert.Equal(0L, await ScalarAsync(admin, "select count(*) from request_log"));
        // The positions it drew are a hole that never holds the relay back.
        var next = ((AppendResult.Appended)await store.AppendAsync(new AppendRequest(
            [new StreamAppend("account-a", 0, [Event()]), new StreamAppend("account-b", 0, [Event()])], Request("transfer-1"), RecordedAt), Ct)).Position;
        Assert.True(next > 4);
        Assert.Equal(["account-a", "account-b"], (await store.DrainOutboxAsync(next)).Select(e => e.StreamId));
    }

    [Fact]
    public async Task AnAppendInAnotherInstance_WakesThisInstancesRelay()
    {
        var relaySide = await OpenStoreAsync();
        var writerSide = await OpenStoreAsync();
        // The first wait starts listening; the listener's own start-up nudge ends it.
        await relaySide.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(2), Ct);

        await AssertAnAppendThereWakesAWaiterHereAsync(writerSide, relaySide);
    }

    [Fact]
    public async Task AnAppendInTheInstanceWhoseRelayIsTheActiveOne_WakesItsRelay_AndNotifiesNoOtherInstance()
    {
        var store = await OpenStoreAsync();
        store.RelaysHere = () => true;
        var elsewhere = await OpenStoreAsync();
        await elsewhere.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(2), Ct);
        await elsewhere.Outbox.ReadPendingAsync("test", 10, Ct);
        var notified = elsewhere.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(60), Ct);
        await store.Outbox.ReadPendingAsync("test", 10, Ct);
        var woken = store.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(60), Ct);

        await store.AppendAsync(Append("account-1", 0, Event()), Ct);

        await woken.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await Task.Delay(1000, Ct);
        Assert.False(notified.IsCompleted, "the append sent a NOTIFY although this instance's relay is the active one");
        store.RelaysHere = () => false;
        await store.AppendAsync(Append("account-1", 1, Event()), Ct);
        await notified.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task AnAppendInThisInstance_WakesItsRelayOnce_NotAgainWhenItsOwnNotificationComesBack()
    {
        var store = await OpenStoreAsync();
        await store.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(2), Ct);
        await store.Outbox.ReadPendingAsync("test", 10, Ct);
        var woken = store.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(60), Ct);

        await store.AppendAsync(Append("account-1", 0, Event()), Ct);
        await woken.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        // Read until it is there, as the woken relay does: a transaction anywhere in the cluster (another test class's) can
        // hold the new position back for a moment, and a single read then comes back empty.
        Assert.Single((await store.PendingAsync(10, count: 1)).Events);

        // The append's NOTIFY (for relays elsewhere) reaches this instance's listener too, a moment later.
        var again = store.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(60), Ct);
        await Task.Delay(1000, Ct);
        Assert.False(again.IsCompleted, "this instance's own notification woke its relay again");
    }

    [Fact]
    public async Task WhenTheListenersConnectionDies_ItReconnects_AndAppendsWakeTheRelayAgain()
    {
        var relaySide = await OpenStoreAsync();
        var writerSide = await OpenStoreAsync();
        await relaySide.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(2), Ct);
        await using var admin = new NpgsqlConnection(connectionString);
        await admin.OpenAsync(Ct);
        const string listenerPid = "select pid from pg_stat_activity where datname = current_database() and query like 'listen %' and state = 'idle'";
        var killed = (int)(await ScalarAsync(admin, listenerPid))!;
        await ScalarAsync(admin, "select pg_terminate_backend($1)", killed);

        // Reconnecting nudges waiters once; let that pass.
        await EventStoreProbes.Eventually(async () =>
        {
            await relaySide.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(2), Ct);
            return await ScalarAsync(admin, listenerPid) is int pid && pid != killed;
        });
        await relaySide.Outbox.WaitForPendingAsync("test", TimeSpan.FromMilliseconds(200), Ct);

        await AssertAnAppendThereWakesAWaiterHereAsync(writerSide, relaySide);
    }

    [Fact]
    public async Task FiveInstancesStartingAtOnce_MigrateTheSchemaOnce_WithoutErrors()
    {
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(OpenStoreAsync, Ct)));

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        Assert.Equal(1L, await ScalarAsync(connection, "select count(*) from schema_migrations where version = '001_events'"));
        Assert.Equal(0L, await ScalarAsync(connection, "select count(*) from events"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheAppendsGenericPlan_LooksStreamsUpByIndex_AndRequestIdsOnlyWhenWrittenAgainToCheckThem_NeverScansAWholeTable(bool checkRequests)
    {
        // The append runs its generic plan (GenericPlansRun… below), planned on the table sizes of the moment and kept as
        // the tables grow. An EXISTS over request_log was planned as a hash join over a sequential scan of it at a few
        // thousand rows, and every append then read the whole request log. The common statement reads no request id at all.
        var plan = await GenericPlanAsync("""
            insert into request_log (request_id, fingerprint, reply, position) select 'request-' || position, '', '', position from events;
            analyze request_log;
            """, checkRequests ? PostgresEventStore.CheckedAppendLayerSql : PostgresEventStore.AppendLayerSql,
            string.Join(", ", Enumerable.Repeat("null", 16)));

        Assert.Equal(checkRequests, plan.Any(line => line.Contains("using request_log_pkey on request_log")));
        Assert.Contains(plan, line => line.Contains("using events_stream_id_stream_version_key on events"));
        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan"));
    }

    [Fact]
    public async Task TheOutboxReadsGenericPlan_StartsAtTheCheckpointInTheOutboxIndex_AndFetchesEachRowsEventsByTheirKey()
    {
        // The read runs its generic plan too (MarkSql). One that joined the checkpoint and events scanned the outbox from
        // its start and hashed all of events on every read. Rows as appends write them: one per ten events here.
        var plan = await GenericPlanAsync("""
            insert into outbox (first_position, last_position) select position, position + 9 from events where position % 10 = 1;
            insert into consumer_checkpoints (consumer, tx, position) select 'test', tx, position from events where position = 1000;
            analyze outbox; analyze consumer_checkpoints;
            """, PostgresEventStore.PendingSql, "'test', 100, 0");

        Assert.Contains(plan, line => line.Contains("using outbox_tx_position on outbox"));
        Assert.Contains(plan, line => line.Contains("using events_pkey on events"));
        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan on events") || line.Contains("Seq Scan on outbox") || line.Contains("Hash"));
    }

    /// <summary>
    /// The generic plan of <paramref name="statement"/> executed with <paramref name="arguments"/>, over 2,000 events in
    /// 100 streams and what <paramref name="setup"/> adds.
    /// </summary>
    private async Task<List<string>> GenericPlanAsync(string setup, string statement, string arguments)
    {
        await OpenStoreAsync();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await ScalarAsync(connection, $$"""
            insert into events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)
            select 'account-' || (i % 100), i / 100 + 1, gen_random_uuid(), 'MoneyDeposited', '{}', '{}', now() from generate_series(0, 1999) i;
            analyze events;
            {{setup}}
            set plan_cache_mode = force_generic_plan;
            prepare planned as {{statement}};
            """);
        await using var explain = new NpgsqlCommand($"explain execute planned({arguments})", connection);
        var plan = new List<string>();
        await using var reader = await explain.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct)) plan.Add(reader.GetString(0));
        return plan;
    }

    [Theory]
    [InlineData(nameof(PostgresEventStore.GroupStartSql))]
    [InlineData(nameof(PostgresEventStore.MarkSql))]
    public async Task GenericPlansRun_AfterTheFirstStatementOfAnAppendOrAnOutboxRead_NotAPlanPerExecution(string firstStatement)
    {
        // Left to choose, the server plans a prepared statement afresh for each of its first five executions, and after
        // them for every one whose parameters make a custom plan look cheaper than the generic one (the append's, for a
        // lone append: over twice the time it takes to run).
        var first = firstStatement == nameof(PostgresEventStore.GroupStartSql) ? PostgresEventStore.GroupStartSql : PostgresEventStore.MarkSql;
        await OpenStoreAsync();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);

        Assert.Equal((0L, 8L), await PlansForEightAppendsAsync(connection, "after_first", first));
        Assert.True((await PlansForEightAppendsAsync(connection, "left_to_choose", "select 1")).Custom >= 5);
    }

    /// <summary>Executions of a prepared append on a custom plan and on the generic plan, of eight in one transaction after <paramref name="first"/>.</summary>
    private static async Task<(long Custom, long Generic)> PlansForEightAppendsAsync(NpgsqlConnection connection, string name, string first)
    {
        await ScalarAsync(connection, $"prepare {name} as {PostgresEventStore.AppendLayerSql}");
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await ScalarAsync(connection, first);
        for (var i = 0; i < 8; i++)
            await ScalarAsync(connection, $$"""
                execute {{name}}(array[0], array['account-{{name}}-{{i}}'], array[0], array[0], array['request-{{name}}-{{i}}'], array[''], array['{}'],
                    array[0], array['account-{{name}}-{{i}}'], array[1], array[gen_random_uuid()], array['MoneyDeposited'], array['{}'], array['{}'],
                    array[now()], array[null::uuid])
                """);
        var plans = $"pg_prepared_statements where name = '{name}'";
        return ((long)(await ScalarAsync(connection, $"select custom_plans from {plans}"))!, (long)(await ScalarAsync(connection, $"select generic_plans from {plans}"))!);
    }

    private async Task<PostgresEventStore> OpenStoreAsync()
    {
        var store = await PostgresEventStore.OpenAsync(connectionString, schema, Ct);
        lock (stores) stores.Add(store);
        return store;
    }

    private static async Task AssertAnAppendThereWakesAWaiterHereAsync(PostgresEventStore writerSide, PostgresEventStore relaySide)
    {
        // The relay's pattern: look at the outbox, then wait for news since that look.
        await relaySide.Outbox.ReadPendingAsync("test", 10, Ct);
        var waiting = relaySide.Outbox.WaitForPendingAsync("test", TimeSpan.FromSeconds(60), Ct);
        await Task.Delay(200, Ct);
        Assert.False(waiting.IsCompleted);

        await writerSide.AppendAsync(Append("account-1", 0, Event()), Ct);

        await waiting.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    /// <summary>
    /// A transaction on a connection of its own that has taken its xid, as an append's first statement does: until it ends
    /// it holds back every position settled after it. Disposing it rolls back what it did not commit and closes the connection.
    /// </summary>
    private async Task<OpenTransaction> BeginWithXidAsync()
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(Ct);
            var transaction = await connection.BeginTransactionAsync(Ct);
            await ScalarAsync(connection, "select pg_current_xact_id()");
            return new OpenTransaction(connection, transaction);
        }
        catch
        {
            // Closing the connection rolls back whatever it began: a failed start leaves no transaction holding positions back.
            await connection.DisposeAsync();
            throw;
        }
    }

    private sealed class OpenTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public NpgsqlConnection Connection => connection;

        public Task CommitAsync() => transaction.CommitAsync(Ct);

        public Task RollbackAsync() => transaction.RollbackAsync(Ct);

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>Writes an event the way an append does, without committing; with an outbox row of its own unless told otherwise.</summary>
    private static async Task<long> InsertEventAsync(NpgsqlConnection connection, string stream, long version = 1, bool ownOutboxRow = true)
    {
        await using var command = new NpgsqlCommand("""
            with e as (
                insert into events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)
                values ($1, $2, gen_random_uuid(), 'test.Happened.v1', '{}', '{}', now())
                returning position
            ), o as (
                insert into outbox (first_position) select position from e where $3
            )
            select position from e
            """, connection) { Parameters = { new() { Value = stream }, new() { Value = version }, new() { Value = ownOutboxRow } } };
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in parameters) command.Parameters.Add(new() { Value = value });
        return await command.ExecuteScalarAsync(Ct);
    }
}
