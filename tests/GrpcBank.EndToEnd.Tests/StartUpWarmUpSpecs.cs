using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// A restarted server warms its command path and its read side before it reports SERVING (so its first command is not
/// its first call), and the warm-up leaves nothing behind: no event, no request-log entry, no position drawn, no view.
/// </summary>
public sealed class StartUpWarmUpSpecs(PostgresServer postgres)
{
    [Fact]
    public async Task GivenAFreshServer_WhenItReportsServing_ThenItHasAnsweredItsOwnWarmUpCall_AndStoredNothing()
    {
        var data = Directory.CreateTempSubdirectory("grpcbank-warm-up-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", data));

            Assert.Contains("Command path warmed up", server.Log);
            Assert.Contains("Read side warmed up", server.Log);
            Assert.Contains("gRPC edge warmed up", server.Log);
            var accounts = new AccountService.AccountServiceClient(server.Channel);
            var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
            // The first event the store holds: had a warm-up written one, this would be 2.
            Assert.Equal(1, opened.Position);
            Assert.Equal(1, opened.Version);
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task GivenHealthProbedWhileTheServerWarmsUp_ThenItSaysNotServing_AndLogsNoError()
    {
        var data = Directory.CreateTempSubdirectory("grpcbank-warm-up-").FullName;
        try
        {
            // ServerProcess probes health every 100 ms from the moment the server listens, as a deployment does.
            await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", data));

            // Before: "fail: ...DefaultHealthCheckService: Health check edge-warm-up with status Unhealthy" for each probe.
            Assert.DoesNotContain("fail:", server.Log, StringComparison.Ordinal);
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task GivenTheThrowawayStoresOfAWarmUpACrashCutShort_WhenTheServerStartsAgain_ThenTheyAreGone_AndItsOwnLeaveNothing()
    {
        // What a server killed in the middle of its read-side warm-up leaves: a throwaway store with its WAL and shared
        // memory. They lived in the system's temporary folder under random names, which nothing looked at again: a set
        // of files per such crash, for good. Now they live in the data directory, which only this server holds.
        var data = Directory.CreateTempSubdirectory("grpcbank-warm-up-").FullName;
        var warmUp = Path.Combine(data, "warm-up");
        Directory.CreateDirectory(warmUp);
        foreach (var leftover in (string[])["read-cut-short.db", "read-cut-short.db-wal", "read-cut-short.db-shm"])
            await File.WriteAllBytesAsync(Path.Combine(warmUp, leftover), new byte[4096], TestContext.Current.CancellationToken);
        try
        {
            await using var host = await BankHost.StartAsync(("Storage:DataDirectory", data));

            Assert.False(Directory.Exists(warmUp), $"left in {warmUp}: {string.Join(", ", Directory.Exists(warmUp) ? Directory.GetFiles(warmUp) : [])}");
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public Task Embedded_GivenAServerWithHistory_WhenRestarted_ThenItsWarmUpLoadedTheNewestAccount_AndWroteNothing() =>
        RestartedWithHistoryAsync();

    [Fact]
    public async Task Postgres_GivenAServerWithHistory_WhenRestarted_ThenItsWarmUpLoadedTheNewestAccount_AndWroteNothing() =>
        await RestartedWithHistoryAsync(("ConnectionStrings:Postgres", await postgres.CreateDatabaseAsync()));

    /// <summary>
    /// The warm-up runs accepted commands (accounts opened, a deposit, a withdrawal, a transfer) up to the store's guard,
    /// applies a made-up history to a throwaway read store and replays the stored events into others: none of it may show.
    /// </summary>
    private static async Task RestartedWithHistoryAsync(params (string Key, string Value)[] settings)
    {
        var data = Directory.CreateTempSubdirectory("grpcbank-warm-up-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync([("Storage:DataDirectory", data), .. settings]);
            var accounts = new AccountService.AccountServiceClient(server.Channel);
            var payer = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
            var payee = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Grace Hopper", CurrencyCode = "EUR" });
            var deposited = await accounts.DepositMoneyAsync(new DepositMoneyRequest
            {
                AccountId = payee.AccountId, AmountMinor = 500, CurrencyCode = "EUR", Reference = "salary", RequestId = Guid.NewGuid().ToString(),
            });
            // Read side caught up, so the events are settled (on PostgreSQL, no older transaction anywhere in the cluster can
            // still commit below them): the warm-up reads the newest of them.
            await new QueryService.QueryServiceClient(server.Channel).GetAccountAsync(
                new GetAccountRequest { AccountId = payee.AccountId, MinPosition = deposited.Position });

            await server.RestartAsync();

            Assert.True(await server.PrintedAsync($"loaded account-{payee.AccountId})"), server.Log);
            // Its stored events went through a rebuild's loading path too, into throwaway generations.
            Assert.True(await server.PrintedAsync("(3 stored events replayed)"), server.Log);
            accounts = new AccountService.AccountServiceClient(server.Channel);
            var next = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Alan Turing", CurrencyCode = "EUR" });
            // No position was drawn by the warm-up's appends: the next event follows the last one written before the restart.
            Assert.Equal(deposited.Position + 1, next.Position);
            var query = new QueryService.QueryServiceClient(server.Channel);
            var shown = await query.GetAccountAsync(new GetAccountRequest { AccountId = payee.AccountId, MinPosition = next.Position });
            Assert.Equal((500, 2), (shown.Account.BalanceMinor, shown.Account.Version));
            var payerShown = await query.GetAccountAsync(new GetAccountRequest { AccountId = payer.AccountId, MinPosition = next.Position });
            Assert.Equal((0, 1), (payerShown.Account.BalanceMinor, payerShown.Account.Version));
            // The warm-up's made-up accounts ("Warm Up") went to a throwaway read store, never to the serving one.
            var warmUps = await query.SearchAccountsAsync(new SearchAccountsRequest { Query = "Warm", MinPosition = next.Position });
            Assert.Empty(warmUps.Accounts);
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}
