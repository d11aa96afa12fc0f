using System.Diagnostics;
using System.Reflection;
using Grpc.Core;
using GrpcBank.Application.Accounts;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Application.Relay;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using GrpcBank.Server.History;
using GrpcBank.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// The server's background loops (relay and its consumers, hold expiry, live subscriptions' watcher, following other
/// writers) meeting a PostgreSQL that misbehaves for a while: read-only with every session of the server terminated
/// again and again, or restarted several times in a row. A loop whose ExecuteAsync throws stops the whole host (.NET's
/// default): none may, over a fault that passes. The real server process, on a cluster of its own.
/// </summary>
public sealed class BackgroundServiceOutageSpecs : IDisposable
{
    /// <summary>The stores of the specs that stop a loop under a failing query (SQLite files), removed afterwards.</summary>
    private readonly string directory = Directory.CreateTempSubdirectory("grpcbank-bgsvc-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public Task SessionsTerminatedAgainAndAgainOnAReadOnlyDatabase_TheServerKeepsRunning_AndCatchesUpWithNothingLost() =>
        UnderLoadAsync(async cluster =>
        {
            for (var round = 0; round < 2; round++)
            {
                await PostgresReadOnlySpecs.SetReadOnlyAsync(cluster.ConnectionString, true);
                await TerminateEverySessionAsync(cluster.ConnectionString, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300));
                await PostgresReadOnlySpecs.SetReadOnlyAsync(cluster.ConnectionString, false);
                await Task.Delay(1_500, TestContext.Current.CancellationToken);
            }
        });

    [Fact]
    public Task ADatabaseRestartedSeveralTimesInARow_TheServerKeepsRunning_AndCatchesUpWithNothingLost() =>
        UnderLoadAsync(async cluster =>
        {
            for (var restart = 0; restart < 4; restart++)
            {
                await cluster.StopAsync();
                await Task.Delay(200 * restart, TestContext.Current.CancellationToken);
                await cluster.StartAgainAsync();
                await Task.Delay(300, TestContext.Current.CancellationToken);
            }
        });

    [Fact]
    public async Task AnOutageUnderTheRelay_CostsEachConsumerOneWarning_NotAnErrorAtEveryRetry_AndItSaysWhenItDeliversAgain()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        // The relay's lease, held here while the server starts and takes commands: their events wait in the outbox.
        var writable = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Options = "-c default_transaction_read_only=off", Pooling = false };
        await using var relayElsewhere = new NpgsqlConnection(writable.ConnectionString);
        await relayElsewhere.OpenAsync(TestContext.Current.CancellationToken);
        await using (var take = new NpgsqlCommand("select pg_advisory_lock(hashtext('grpcbank.relay'))", relayElsewhere))
            await take.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        var logs = new CapturedLogs();
        await using var host = await BankHost.StartPostgresAsync(cluster.ConnectionString, builder => builder.Logging.AddProvider(logs));
        var accounts = new AccountService.AccountServiceClient(host.Channel);
        var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Through The Outage", CurrencyCode = "EUR" });
        var deposited = await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 7, CurrencyCode = "EUR" });
        static bool OfTheConsumers(string line) => line.Contains(" GrpcBank.Application.Relay.OutboxRelay: Relay consumer ", StringComparison.Ordinal);

        // Read-only (a failover under way) as this server takes the lease: each consumer fails at every retry for 5 s,
        // the read side to apply, the payment process to move its checkpoint, the wait doubling from 0.1 s.
        await PostgresReadOnlySpecs.SetReadOnlyAsync(cluster.ConnectionString, true);
        await relayElsewhere.CloseAsync();
        await Task.Delay(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var lines = logs.Lines.Where(OfTheConsumers).ToList();
        // Npgsql 10.0.3 breaks an auto-prepared statement that failed in a transaction (npgsql/npgsql#6391): the read
        // side's share-locked read of the serving generation, prepared at its fifth use, fails once more with "Received
        // unexpected backend message DataRow", a fault of the driver's, and rightly an error; the connection is then
        // discarded. Not the outage's retries, which are what this counts.
        var duringOutage = lines.Where(l => !l.Contains("Received unexpected backend message", StringComparison.Ordinal)).Select(l => l.Split('\n')[0]).ToList();
        await PostgresReadOnlySpecs.SetReadOnlyAsync(cluster.ConnectionString, false);
        var read = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = opened.AccountId, MinPosition = deposited.Position },
            deadline: DateTime.UtcNow.AddSeconds(30));
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!logs.Lines.Any(l => l.Contains("Relay consumer read-side delivers again", StringComparison.Ordinal)) && DateTime.UtcNow < until)
            await Task.Delay(100, TestContext.Current.CancellationToken);

        var summary = string.Join("\n", duringOutage);
        Assert.Equal(7, read.Account.BalanceMinor);
        Assert.True(duringOutage.Count > 0, "no consumer failed while read-only: the spec tests nothing");
        Assert.False(duringOutage.Any(l => l.StartsWith("Error ", StringComparison.Ordinal)), $"errors for a transient fault:\n{summary}");
        Assert.Single(duringOutage, l => l.StartsWith("Warning ", StringComparison.Ordinal) && l.Contains("Relay consumer read-side cannot deliver for now", StringComparison.Ordinal));
        // Two consumers (read side, payment process): a warning each at most, however many retries failed.
        var warnings = duringOutage.Count(l => l.StartsWith("Warning ", StringComparison.Ordinal));
        Assert.True(warnings <= 2, $"{warnings} warnings of the relay's consumers in a 5 s outage (one each at most):\n{summary}");
        Assert.Contains(logs.Lines, l => l.StartsWith("Information GrpcBank.Application.Relay.OutboxRelay: Relay consumer read-side delivers again, after ", StringComparison.Ordinal));
    }

    /// <summary>
    /// A store that fails otherwise than with a cancellation as the server stops (a connection ended under the query as
    /// the stores close; a driver's own error for a cancelled statement): caught only while not stopping, it left
    /// ExecuteAsync, and the host logged "BackgroundService failed" and a critical line that it stops because of it.
    /// No PostgreSQL fault lands inside that moment on demand, so the read store's one query here does it.
    /// </summary>
    [Fact]
    public async Task AFailureAsTheServerStops_EndsHoldExpiryQuietly_NotAsAFailedBackgroundService()
    {
        using var events = new SqliteEventStore(Path.Combine(directory, "events.db"));
        using var read = new SqliteReadStore(Path.Combine(directory, "read.db"));
        var readStore = EndedAsTheServerStops.Wrap<IReadStore>(read, nameof(IReadStore.DueHoldsAsync), out var ending);
        var expiry = new HoldExpiry(readStore, new Handlers(events, TimeProvider.System, new StreamLocks(), r => r.ToString()),
            TimeProvider.System, NullLogger<HoldExpiry>.Instance);

        await expiry.StartAsync(TestContext.Current.CancellationToken);
        await ending.Asked.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var stopping = await Record.ExceptionAsync(() => expiry.StopAsync(CancellationToken.None));

        Assert.Null(stopping);
        Assert.False(expiry.ExecuteTask!.IsFaulted, $"ExecuteAsync failed: {expiry.ExecuteTask.Exception}");
    }

    [Fact]
    public async Task AFailureAsTheServerStops_EndsTheLiveSubscriptionsWatcherQuietly_NotAsAFailedBackgroundService()
    {
        using var events = new SqliteEventStore(Path.Combine(directory, "events.db"));
        var store = EndedAsTheServerStops.Wrap<IEventStore>(events, nameof(IEventStore.HeadPositionAsync), out var ending);
        using var live = new LiveEvents(store, new RelayProgress(), new ConfigurationBuilder().Build(), NullLogger<LiveEvents>.Instance);

        await live.StartAsync(TestContext.Current.CancellationToken);
        using var subscriber = new CancellationTokenSource();
        // A subscriber waiting: the watcher looks at the store for it (its first look asks for the head).
        var waiting = live.WaitPastAsync(0, subscriber.Token);
        await ending.Asked.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var stopping = await Record.ExceptionAsync(() => live.StopAsync(CancellationToken.None));
        await subscriber.CancelAsync();

        Assert.Null(stopping);
        Assert.False(live.ExecuteTask!.IsFaulted, $"ExecuteAsync failed: {live.ExecuteTask.Exception}");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    /// <summary>
    /// A real store one of whose queries waits for the stop and then fails as a connection ended by it would (not with a
    /// cancellation).
    /// </summary>
    public class EndedAsTheServerStops : DispatchProxy
    {
        private object target = null!;
        private string query = "";

        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static T Wrap<T>(T target, string query, out EndedAsTheServerStops ending) where T : class
        {
            var proxy = Create<T, EndedAsTheServerStops>();
            ending = (EndedAsTheServerStops)(object)proxy;
            (ending.target, ending.query) = (target, query);
            return proxy;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            if (method!.Name != query) return method.Invoke(target, args);
            Asked.TrySetResult();
            var ct = args!.OfType<CancellationToken>().Single();
            return typeof(EndedAsTheServerStops).GetMethod(nameof(FailOnStopAsync), BindingFlags.NonPublic | BindingFlags.Static)!
                .MakeGenericMethod(method.ReturnType.GetGenericArguments()[0]).Invoke(null, [ct]);
        }

        private static async Task<TResult> FailOnStopAsync<TResult>(CancellationToken ct)
        {
            await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw new IOException("the connection ended as the server stopped");
        }
    }

    /// <summary>
    /// The server on <paramref name="cluster"/>, its read side there too (so hold expiry and the read-side sink read and
    /// write PostgreSQL), its relay checking its lease often.
    /// </summary>
    private static Task<ServerProcess> StartAsync(ThrowawayCluster cluster) => ServerProcess.StartAsync(
        ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()),
        ("ConnectionStrings:Postgres", cluster.ConnectionString),
        ("ReadStore:Kind", "Postgres"));

    /// <summary>A live subscriber for the whole run (so the server's watcher of the store looks), re-subscribing after a failure.</summary>
    private static Task SubscribeAsync(ServerProcess server, CancellationToken stop) => Task.Run(async () =>
    {
        var history = new HistoryService.HistoryServiceClient(server.Channel);
        long after = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var call = history.SubscribeAll(new SubscribeAllRequest { FromPosition = after }, cancellationToken: stop);
                while (await call.ResponseStream.MoveNext(stop))
                    if (call.ResponseStream.Current.Event is { } e) after = e.Position;
            }
            catch (RpcException)
            {
                await Task.Delay(200, CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    });

    /// <summary>
    /// Every <paramref name="every"/> for <paramref name="during"/>: <c>pg_terminate_backend</c> of every client session
    /// but this one (the server's pooled connections, its relay lease, its LISTEN).
    /// </summary>
    private static async Task TerminateEverySessionAsync(string connectionString, TimeSpan during, TimeSpan every)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c default_transaction_read_only=off", Pooling = false };
        await using var admin = new NpgsqlConnection(builder.ConnectionString);
        await admin.OpenAsync();
        var watch = Stopwatch.StartNew();
        do
        {
            await using (var terminate = new NpgsqlCommand(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where pid <> pg_backend_pid() and backend_type = 'client backend'", admin))
                await terminate.ExecuteScalarAsync();
            await Task.Delay(every);
        }
        while (watch.Elapsed < during);
    }

    /// <summary>
    /// The server on a cluster of its own under a light write load with a live subscriber, <paramref name="fault"/> done
    /// to the cluster meanwhile; afterwards the same process still runs and serves, and the read side equals the history.
    /// </summary>
    private static async Task UnderLoadAsync(Func<ThrowawayCluster, Task> fault)
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        await using var server = await StartAsync(cluster);
        var load = await DepositLoad.OpenAccountsAsync(server.Channel, 3);
        using var stop = new CancellationTokenSource();
        var writing = load.RunAsync(server.Channel, writers: 2, stop.Token);
        var subscribing = SubscribeAsync(server, stop.Token);
        await Task.Delay(1_000, TestContext.Current.CancellationToken);

        await fault(cluster);

        // Long enough for every loop's backoff (5 s at most) to come round once more.
        await Task.Delay(6_000, TestContext.Current.CancellationToken);
        stop.Cancel();
        await writing.WaitAsync(TimeSpan.FromSeconds(30));
        await subscribing.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(server.Log.Contains("BackgroundService failed", StringComparison.Ordinal), $"A background service stopped the host:\n{server.Log}");
        Assert.False(server.Log.Contains("Application is shutting down", StringComparison.Ordinal), $"The server stopped itself:\n{server.Log}");
        Assert.True(await ServerProcess.IsServingAsync(server.Channel), $"The server no longer serves:\n{server.Log}");
        Assert.True(load.Acknowledged.Count > 0, "no deposit was acknowledged");
        await load.AssertCaughtUpAsync(server.Channel);
        TestContext.Current.SendDiagnosticMessage(
            $"{load.Acknowledged.Count} acknowledged, failures {string.Join(", ", load.Failures.Select(f => $"{f.Key}: {f.Value}"))}");
    }
}
