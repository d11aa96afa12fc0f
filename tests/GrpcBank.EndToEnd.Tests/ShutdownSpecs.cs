using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>What a server that is asked to stop does with the calls it still serves.</summary>
public sealed class ShutdownSpecs
{
    [Fact]
    public async Task ALiveSubscription_EndsPromptlyWithUnavailable_WhenTheServerStops_AndDoesNotHoldTheStop()
    {
        var host = await BankHost.StartEmbeddedAsync();
        // A channel of the test's own: the host's is disposed as it stops, which would cancel the call from this side.
        using var channel = GrpcChannel.ForAddress(host.GrpcUrl);
        var id = NewId();
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Annie Easley", CurrencyCode = "EUR" });
        using var call = new HistoryService.HistoryServiceClient(channel).SubscribeAll(new SubscribeAllRequest());
        Assert.True(await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        // Caught up: the subscription now waits for live events.
        await Task.Delay(300, TestContext.Current.CancellationToken);

        // Without an end of its own, a waiting subscription held the stop for the host's whole shutdown timeout (30 s),
        // then was cut off. Retryable: the client resubscribes from its last position on another server, or this one
        // once it is back.
        await AssertTheStopEndsItPromptly_WithServerStoppingAsync(host, call.ResponseStream);
    }

    /// <summary>Stops the host: within 5 s, and the stream ends UNAVAILABLE with reason SERVER_STOPPING.</summary>
    private static async Task AssertTheStopEndsItPromptly_WithServerStoppingAsync<T>(BankHost host, IAsyncStreamReader<T> stream)
    {
        var stopping = Stopwatch.StartNew();
        await host.DisposeAsync();
        stopping.Stop();
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stream.MoveNext(CancellationToken.None)) { }
        }).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
        Assert.Equal("SERVER_STOPPING", ended.GetRpcStatus()!.GetDetail<Google.Rpc.ErrorInfo>().Reason);
    }

    [Fact]
    public async Task AReadWaitingForMinPosition_EndsPromptlyWithUnavailable_WhenTheServerStops_AndDoesNotHoldTheStop()
    {
        // No relay: the read side never reaches the deposit, so the read waits as long as its deadline allows.
        var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        using var channel = GrpcChannel.ForAddress(host.GrpcUrl);
        var id = NewId();
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Annie Easley", CurrencyCode = "EUR" });
        var deposited = await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 5, CurrencyCode = "EUR" });
        using var read = new QueryService.QueryServiceClient(channel).GetAccountAsync(
            new GetAccountRequest { AccountId = id, MinPosition = deposited.Position }, deadline: DateTime.UtcNow.AddSeconds(60));
        await Task.Delay(300, TestContext.Current.CancellationToken);
        // Still waiting: a read already answered (or refused) would end before the stop without showing what the stop does.
        Assert.False(read.ResponseAsync.IsCompleted, "the read ended before the server was stopped");

        var stopping = Stopwatch.StartNew();
        await host.DisposeAsync();
        stopping.Stop();
        var ended = await Assert.ThrowsAsync<RpcException>(() => read.ResponseAsync).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal((StatusCode.Unavailable, "READ_SIDE_BEHIND"), (ended.StatusCode, ended.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason));
    }

    [Fact]
    public async Task ARebuildInFlight_IsAbandonedWithUnavailable_WhenTheServerStops_AndDoesNotHoldTheStop()
    {
        var host = await BankHost.StartEmbeddedAsync();
        using var channel = GrpcChannel.ForAddress(host.GrpcUrl);
        // 100,000 events appended straight to the store: the rebuild's first report comes a tenth of the way into its
        // replay, and the stop begins there. Left to run, it ended the call OK with its report of Done.
        var store = host.Get<GrpcBank.Application.EventStore.IEventStore>();
        var id = NewId();
        for (var version = 0; version < 100_000; version += 1_000)
            await store.AppendAsync(new GrpcBank.Application.EventStore.AppendRequest($"account-{id}", version,
                [.. Enumerable.Range(0, 1_000).Select(_ => new GrpcBank.Application.EventStore.EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1",
                    $$"""{"accountId":"{{id}}","amountMinor":1,"currencyCode":"EUR","reference":"r"}""", "{}"))],
                null, DateTimeOffset.UtcNow), CancellationToken.None);
        await Bank.EventuallyAsync(() => Task.FromResult(host.Get<GrpcBank.Application.Relay.RelayProgress>().IsActive ? "active" : null));
        using var call = new Contracts.Admin.V1.ProjectionService.ProjectionServiceClient(channel).RebuildProjections(new Contracts.Admin.V1.RebuildProjectionsRequest());
        Assert.True(await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken)); // replaying

        // Retryable: the rebuild is abandoned (its new generation dropped, the old one served) and may be asked again.
        await AssertTheStopEndsItPromptly_WithServerStoppingAsync(host, call.ResponseStream);
    }

    /// <summary>
    /// SIGTERM while the server starts up (a deployment rolled back, a service manager's stop right after its start):
    /// a stop asked for, not a failure. Signalled at several moments after the server's first line, so that some land
    /// in its warm-ups, which take a few hundred milliseconds.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(150)]
    [InlineData(300)]
    [InlineData(450)]
    [InlineData(700)]
    public async Task SigtermWhileStartingUp_StopsTheServer_WithoutAFailure(int afterFirstLineMs)
    {
        var directory = Directory.CreateTempSubdirectory("grpcbank-stop-");
        try
        {
            await using var server = ServerProcess.Launch(new ServerLaunch(("Storage:DataDirectory", directory.FullName)));
            Assert.True(await server.PrintedAsync("Embedded stores in"), server.Log);
            await Task.Delay(afterFirstLineMs, TestContext.Current.CancellationToken);

            var exitCode = await server.TerminateAsync(TimeSpan.FromSeconds(30));

            // Before: "fail: Hosting failed to start", a warm-up's (or Kestrel's bind's) cancellation unhandled, and exit code
            // 134; or, for a signal while the stores were still being opened (before the host took the signals over), the
            // runtime's default end, exit code 143.
            Assert.True(exitCode == 0, $"exit code {exitCode}:\n{server.Log}");
            Assert.DoesNotContain("fail:", server.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("crit:", server.Log, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
