using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Application.Relay;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Reads that wait for min_position: released when the read side advances (not by each polling), capped, and never
/// answered stale. The relay is off, so the test decides when the read side moves: it delivers what the relay would.
/// </summary>
public sealed class ReadYourWritesSpecs
{
    /// <summary>An embedded bank whose relay does not run; the pump's own look is an hour away, so only a wake-up releases a read.</summary>
    private static Task<BankHost> StartWithoutRelayAsync(int maxWaitingReads = 1_000) =>
        BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"), ("Query:ReadSidePollInterval", "01:00:00"),
            ("Query:MaxWaitingReads", maxWaitingReads.ToString()));

    /// <summary>What the relay does for one batch: the read store applies it, and progress is reported.</summary>
    private static async Task DeliverAsync(BankHost host)
    {
        var batch = await host.Get<IEventStore>().Outbox.ReadPendingAsync(ReadStoreSink.SinkName, 500, TestContext.Current.CancellationToken);
        await host.Get<ReadStoreSink>().HandleAsync(batch.Events, batch.Watermark, TestContext.Current.CancellationToken);
        host.Get<RelayProgress>().For(ReadStoreSink.SinkName).Advance(batch.Watermark, batch.Events);
    }

    [Fact]
    public async Task ManyWaitingReads_AreAllAnsweredWhenTheReadSideAdvances_AndNoneBefore()
    {
        await using var host = await StartWithoutRelayAsync();
        var id = await new Bank(host).OpenAsync(deposit: 700);
        var position = (await host.Query.SearchAccountsAsync(new SearchAccountsRequest())).Position; // 0: nothing delivered
        Assert.Equal(0, position);
        var head = await host.Get<IEventStore>().HeadPositionAsync(TestContext.Current.CancellationToken);

        // 90: within one HTTP/2 connection's concurrent streams, so every read is waiting in the server.
        var reads = Enumerable.Range(0, 90).Select(_ => host.Query.GetAccountAsync(
            new GetAccountRequest { AccountId = id, MinPosition = head }, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync).ToList();
        await Task.Delay(1_000);
        Assert.All(reads, read => Assert.False(read.IsCompleted, "a read was answered before the read side reached its position"));

        await DeliverAsync(host);

        var answers = await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(answers, a => Assert.Equal((700L, head), (a.Account.BalanceMinor, a.Position)));
    }

    [Fact]
    public async Task WaitingReadsBeyondTheCap_AreResourceExhausted_AndTheCapFreesUpWhenTheyEnd()
    {
        await using var host = await StartWithoutRelayAsync(maxWaitingReads: 3);
        var id = await new Bank(host).OpenAsync();
        var head = await host.Get<IEventStore>().HeadPositionAsync(TestContext.Current.CancellationToken);
        var wait = new GetAccountRequest { AccountId = id, MinPosition = head };

        // Ten at once: three take the places and wait (until just before their deadline: UNAVAILABLE), the rest are refused.
        var codes = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => host.Query.GetAccountAsync(wait, deadline: DateTime.UtcNow.AddSeconds(3)).ResponseAsync);
            if (e.StatusCode == StatusCode.ResourceExhausted)
                Assert.Equal("TOO_MANY_WAITING_READS", e.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>().Reason);
            return e.StatusCode;
        }));

        Assert.All(codes, code => Assert.Contains(code, new[] { StatusCode.ResourceExhausted, StatusCode.Unavailable, StatusCode.DeadlineExceeded }));
        Assert.True(codes.Count(c => c != StatusCode.ResourceExhausted) <= 3, $"more than 3 reads waited: {string.Join(", ", codes)}");
        Assert.Contains(StatusCode.ResourceExhausted, codes);
        // Their places are free again: a new read waits (and, the read side not moving, runs out of time) instead of being refused.
        await NotYetFresh(() => host.Query.GetAccountAsync(wait, deadline: DateTime.UtcNow.AddSeconds(1)).ResponseAsync);
    }

    [Fact]
    public async Task APositionTheReadSideHasNotReached_IsUnavailable_NotStaleData()
    {
        await using var host = await StartWithoutRelayAsync();
        var id = await new Bank(host).OpenAsync();
        var head = await host.Get<IEventStore>().HeadPositionAsync(TestContext.Current.CancellationToken);

        await NotYetFresh(() => host.Query.GetAccountAsync(
            new GetAccountRequest { AccountId = id, MinPosition = head }, deadline: DateTime.UtcNow.AddSeconds(1)).ResponseAsync);
    }

    [Fact]
    public async Task AWaitingRead_WaitsAsLongAsItsDeadline_NotAFixedFiveSeconds()
    {
        await using var host = await StartWithoutRelayAsync();
        var id = await new Bank(host).OpenAsync(deposit: 300);
        var head = await host.Get<IEventStore>().HeadPositionAsync(TestContext.Current.CancellationToken);

        var read = host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = head }, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync;
        // Past the old fixed cap of 5 s, which answered UNAVAILABLE here although the caller would have waited longer.
        await Task.Delay(6_500);
        Assert.False(read.IsCompleted, "the read gave up before its deadline");

        await DeliverAsync(host);

        Assert.Equal(300, (await read.WaitAsync(TimeSpan.FromSeconds(30))).Account.BalanceMinor);
    }
}

/// <summary>
/// Read-your-writes on PostgreSQL with the relay running, where a position settles only at the relay's look after the
/// one that read it. Every poll is an hour away, so each read is answered only if the relay's own wake-ups carry the
/// read side to the position: a missed one leaves the read waiting until its deadline, and the spec fails.
/// </summary>
public sealed class PostgresReadYourWritesSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task EachCommandsPosition_IsReachedByTheRelaysWakeUps_WithoutAnyPolling()
    {
        await using var host = await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(),
            // The embedded read store: this spec is about the event store's side (positions settling at the relay's next
            // look); the shared PostgreSQL read store tells waiting reads of progress by polling (README, several servers).
            ("ReadStore:Kind", "Sqlite"), ("Relay:PollInterval", "01:00:00"), ("Query:ReadSidePollInterval", "01:00:00"));
        var id = await new Bank(host).OpenAsync();
        for (var i = 1; i <= 20; i++)
        {
            var reply = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" });
            var read = await host.Query.GetAccountAsync(
                new GetAccountRequest { AccountId = id, MinPosition = reply.Position }, deadline: DateTime.UtcNow.AddSeconds(20));
            Assert.Equal(i, read.Account.BalanceMinor);
            Assert.True(read.Position >= reply.Position);
        }
    }
}
