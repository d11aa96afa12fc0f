using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Three real server processes sharing one PostgreSQL (event store and read store), clients spread over them: commands
/// on the same account through different servers never overdraw and each success has its own version; every server
/// answers queries at a position written through another; the relay moves when its holder is killed; a rolling restart
/// under load loses no acknowledged command.
/// </summary>
public sealed class MultiServerSpecs(PostgresServer postgres)
{
    private const int Servers = 3;

    [Fact]
    public async Task WithdrawalsOnOneHotAccountThroughThreeServers_NeverOverdraw_EachSuccessHasItsOwnVersion_AndEveryServerReadsItsWrites()
    {
        await using var cluster = await ServerCluster.StartAsync(await postgres.CreateDatabaseAsync(), Servers);
        const long funds = 30_000;
        var accounts = new AccountService.AccountServiceClient(cluster.RoundRobin);
        var id = $"hot-{Guid.NewGuid():N}"[..16];
        await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Hot Account", CurrencyCode = "EUR" });
        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = funds, CurrencyCode = "EUR", RequestId = Guid.NewGuid().ToString() });

        var successes = new ConcurrentBag<(long Amount, WithdrawMoneyResponse Reply)>();
        var refused = 0;
        var aborted = 0;
        var readChecks = 0;
        var started = Stopwatch.StartNew();
        // Four writers per server, each on its own server's channel; after every success another server must show it.
        await Task.WhenAll(Enumerable.Range(0, Servers * 4).Select(w => Task.Run(async () =>
        {
            var server = cluster.Servers[w % Servers];
            var reader = new QueryService.QueryServiceClient(cluster.Servers[(w + 1) % Servers].Channel);
            var client = new AccountService.AccountServiceClient(server.Channel);
            var random = new Random(w);
            var refusedInARow = 0;
            while (refusedInARow < 3)
            {
                var amount = random.Next(20, 200);
                try
                {
                    var reply = await client.WithdrawMoneyAsync(new WithdrawMoneyRequest
                    {
                        AccountId = id, AmountMinor = amount, CurrencyCode = "EUR", RequestId = Guid.NewGuid().ToString(),
                    }, deadline: DateTime.UtcNow.AddSeconds(30));
                    successes.Add((amount, reply));
                    refusedInARow = 0;
                    var seen = (await reader.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = reply.Position },
                        deadline: DateTime.UtcNow.AddSeconds(30))).Account;
                    Assert.True(seen.Version >= reply.Version, $"read at position {reply.Position} shows version {seen.Version}, the write made {reply.Version}");
                    Interlocked.Increment(ref readChecks);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition
                                             && e.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason == "INSUFFICIENT_FUNDS")
                {
                    Interlocked.Increment(ref refused);
                    refusedInARow++;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Aborted)
                {
                    Interlocked.Increment(ref aborted); // a conflict that outlasted the server's retries: nothing was written
                }
            }
        })));
        var elapsed = started.Elapsed;

        var final = (await new QueryService.QueryServiceClient(cluster.RoundRobin).GetAccountAsync(new GetAccountRequest
        {
            AccountId = id, MinPosition = successes.Max(s => s.Reply.Position),
        }, deadline: DateTime.UtcNow.AddSeconds(30))).Account;
        var versions = successes.Select(s => s.Reply.Version).ToList();
        Assert.Equal(versions.Count, versions.Distinct().Count());
        Assert.Equal(Enumerable.Range(3, versions.Count).Select(v => (long)v), versions.Order());
        Assert.Equal(funds - successes.Sum(s => s.Amount), final.BalanceMinor);
        Assert.InRange(final.BalanceMinor, 0, 199);
        Assert.All(successes, s => Assert.True(s.Reply.BalanceMinor >= 0));
        Assert.Equal(successes.Count, readChecks);

        var appends = await Task.WhenAll(Enumerable.Range(0, Servers).Select(cluster.AppendsAsync));
        Assert.All(appends, perServer => Assert.True(perServer.GetValueOrDefault("appended") > 0, "a server took no command"));
        var appended = appends.Sum(a => a.GetValueOrDefault("appended"));
        var conflicts = appends.Sum(a => a.GetValueOrDefault("conflict"));
        var commands = successes.Count + refused + aborted;
        // Bounded: most collisions are absorbed by the servers' retries; few reach the client.
        Assert.True(aborted <= commands / 20, $"{aborted} of {commands} withdrawals were ABORTED");
        TestContext.Current.SendDiagnosticMessage(
            $"hot account, {Servers} servers × 4 writers: {successes.Count} withdrawals in {elapsed.TotalSeconds:0.0} s, {refused} refused; " +
            $"{conflicts} append conflicts per {appended} appends ({100.0 * conflicts / Math.Max(1, appended + conflicts):0.0}% of attempts); {aborted} ABORTED");
    }

    [Fact]
    public async Task TransfersAmongFewAccountsThroughThreeServers_AreEachWholeOnce_TheTotalHolds_AndAConflictThatOutlastsTheRetriesWritesNothing()
    {
        await using var cluster = await ServerCluster.StartAsync(await postgres.CreateDatabaseAsync(), Servers);
        var load = await TransferLoad.OpenAccountsAsync(cluster.RoundRobin, 6, funding: 1_000_000);
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(8)))
            await load.RunAsync(cluster.RoundRobin, singleWriters: 6, batchWriters: 3, stop.Token);

        // Only ABORTED may fail a call here (another server kept winning the race for an account), and it wrote nothing.
        Assert.Empty(load.Failures.Keys.Except([StatusCode.Aborted]));
        var stored = await StoredRequests.ReadAsync(cluster.RoundRobin, load.Accounts);
        foreach (var requestId in load.Acknowledged.Keys) load.AssertStoredWhole(stored, requestId);
        Assert.Equal(load.Acknowledged.Count, stored.Count);
        Assert.Equal(load.Total, await load.WriteSideTotalAsync(cluster.RoundRobin));
        var aborted = load.Failures.GetValueOrDefault(StatusCode.Aborted);
        Assert.True(load.Acknowledged.Count >= 100 && aborted <= load.Transfers.Count / 20,
            $"{load.Acknowledged.Count} of {load.Transfers.Count} transfers acknowledged, {aborted} calls ABORTED");
        foreach (var server in cluster.Servers) await ReadSide.AssertEqualsReplayAsync(server.Channel, load.Accounts);
        TestContext.Current.SendDiagnosticMessage($"{load.Acknowledged.Count} transfers through {Servers} servers, {aborted} calls ABORTED");
    }

    [Fact]
    public async Task KillingTheRelayHolder_ThenARollingRestart_UnderLoad_LosesNoAcknowledgedDeposit_AndTheReadSideFollows()
    {
        await using var cluster = await ServerCluster.StartAsync(await postgres.CreateDatabaseAsync(), Servers);
        var load = await DepositLoad.OpenAccountsAsync(cluster.RoundRobin, 6);
        using var stop = new CancellationTokenSource();
        var writing = load.RunAsync(cluster.RoundRobin, writers: 4, stop.Token);
        await AcknowledgedAsync(load, 100);

        // kill -9 of the server holding the relay: another takes the lease, and a write acknowledged after the kill
        // becomes readable on yet another server.
        var holder = await cluster.RelayHolderAsync(TimeSpan.FromSeconds(30));
        var killedAt = Stopwatch.StartNew();
        cluster.Servers[holder].Kill();
        var writer = cluster.Servers[(holder + 1) % Servers];
        var reader = cluster.Servers[(holder + 2) % Servers];
        var after = await new AccountService.AccountServiceClient(writer.Channel).DepositMoneyAsync(new DepositMoneyRequest
        {
            AccountId = load.Accounts[0], AmountMinor = 1, CurrencyCode = "EUR", RequestId = Guid.NewGuid().ToString(),
        });
        await new QueryService.QueryServiceClient(reader.Channel).GetAccountAsync(
            new GetAccountRequest { AccountId = load.Accounts[0], MinPosition = after.Position }, deadline: DateTime.UtcNow.AddSeconds(60));
        var failover = killedAt.Elapsed;
        var successor = await cluster.RelayHolderAsync(TimeSpan.FromSeconds(5));
        Assert.NotEqual(holder, successor);
        Assert.True(failover < TimeSpan.FromSeconds(15), $"the read side stood still for {failover.TotalSeconds:0.0} s after the relay's holder died");
        await cluster.Servers[holder].RestartAsync();

        // Rolling restart: each server in turn killed and started again, with deposits acknowledged in between.
        foreach (var server in cluster.Servers)
        {
            await server.RestartAsync();
            await AcknowledgedAsync(load, load.Acknowledged.Count + 10);
        }
        stop.Cancel();
        await writing.WaitAsync(TimeSpan.FromSeconds(30));

        var acknowledged = load.Acknowledged.ToDictionary();
        var stored = await load.StoredAsync(cluster.RoundRobin);
        foreach (var (requestId, reply) in acknowledged)
            Assert.True(stored.TryGetValue(requestId, out var versions) && versions.SequenceEqual([reply.Version]),
                $"acknowledged {requestId} at version {reply.Version}; stored at [{string.Join(", ", stored.GetValueOrDefault(requestId) ?? [])}]");
        // What was in flight is there at most once, and a retry with its request id makes it exactly once.
        var accounts = new AccountService.AccountServiceClient(cluster.RoundRobin);
        foreach (var request in load.Unacknowledged.ToList()) await accounts.DepositMoneyAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));
        stored = await load.StoredAsync(cluster.RoundRobin);
        Assert.All(stored, s => Assert.Single(s.Value));
        Assert.Equal(load.Acknowledged.Count + load.Unacknowledged.Count() + 1, stored.Count); // + the deposit written after the kill
        foreach (var server in cluster.Servers) await ReadSide.AssertEqualsReplayAsync(server.Channel, load.Accounts);
        TestContext.Current.SendDiagnosticMessage(
            $"relay failover (kill -9 of its holder → a later write readable on a third server): {failover.TotalMilliseconds:0} ms; " +
            $"{acknowledged.Count} deposits acknowledged across the kill and 3 restarts, failures by status: " +
            string.Join(", ", load.Failures.Select(f => $"{f.Key} {f.Value}")));
    }

    private static async Task AcknowledgedAsync(DepositLoad load, int count)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (load.Acknowledged.Count < count)
        {
            Assert.True(DateTime.UtcNow < until, $"only {load.Acknowledged.Count} of {count} deposits acknowledged in time");
            await Task.Delay(20);
        }
    }
}
