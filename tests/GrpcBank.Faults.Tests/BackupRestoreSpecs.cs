using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// An embedded data directory restored from a backup, whole or in part, by a real server process. The read store is a
/// file of its own beside the event store, so an operator who restores only <c>events.db</c> (the one that matters) from
/// an older backup keeps a read store that has applied positions the restored store never reached; the store then gives
/// those positions to new events.
/// </summary>
public sealed class BackupRestoreSpecs
{
    [Fact]
    public async Task AnOlderEventStoreRestoredUnderANewerReadStore_TheReadSideShowsWhatTheStoreHolds_AndEveryNewEvent()
    {
        var (directory, backup) = (KillUnderLoadSpecs.TempDirectory(), KillUnderLoadSpecs.TempDirectory());
        await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", directory));
        await BackUpThenMoveOnAsync(server, () => Task.Run(() => CopyFiles(directory, backup, "events.db*")));

        // The operator restores the event store alone; read.db stays as the newer history left it.
        foreach (var file in Directory.GetFiles(directory, "events.db*")) File.Delete(file);
        CopyFiles(backup, directory, "events.db*");
        await server.RestartAsync();
        await AssertTheReadSideFollowsTheOlderEventStoreAsync(server);
    }

    [Fact]
    public async Task AnOlderReadStoreRestoredBesideANewerEventStore_IsGivenEveryEventItMissed()
    {
        var (directory, backup) = (KillUnderLoadSpecs.TempDirectory(), KillUnderLoadSpecs.TempDirectory());
        await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", directory));
        var head = await BackUpThenMoveOnAsync(server, () => Task.Run(() => CopyFiles(directory, backup, "read*")));

        // The operator restores the read store alone, from the older backup; events.db stays as it is.
        foreach (var file in Directory.GetFiles(directory, "read*")) File.Delete(file);
        CopyFiles(backup, directory, "read*");
        await server.RestartAsync();

        var query = new QueryService.QueryServiceClient(server.Channel);
        var read = (await query.GetAccountAsync(new GetAccountRequest { AccountId = "ada", MinPosition = head }, deadline: DateTime.UtcNow.AddSeconds(30))).Account;
        Assert.Equal((5100L, 7L), (read.BalanceMinor, read.Version));
        var lines = await query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = "ada", MinPosition = head, PageSize = 50 }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(6, lines.Transactions.Count);
        await ReadSide.AssertEqualsReplayAsync(server.Channel, ["ada", "bob"]);
        Assert.True(await server.PrintedAsync("behind the checkpoint"), $"the server did not say why it replayed into the read side:\n{server.Log}");
    }

    [Fact]
    public async Task AWholeDirectoryRestoredToAnOlderPoint_Serves_ANewerMinPositionIsOutOfRange_AndALaterRequestIdIsNewAgain()
    {
        var (directory, backup) = (KillUnderLoadSpecs.TempDirectory(), KillUnderLoadSpecs.TempDirectory());
        await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", directory));
        var head = await BackUpThenMoveOnAsync(server, () => Task.Run(() => CopyFiles(directory, backup, "*")));

        Directory.Delete(directory, recursive: true);
        CopyFiles(backup, directory, "*");
        await server.RestartAsync();
        var query = new QueryService.QueryServiceClient(server.Channel);
        var ahead = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() =>
            query.GetAccountAsync(new GetAccountRequest { AccountId = "ada", MinPosition = head }).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.OutOfRange, ahead.StatusCode);
        Assert.Contains($"min_position {head} is beyond the newest event, at position 2", ahead.Status.Detail);

        // "after-0" was written after the backup: the restored bank never logged it, so it is a new request again, and
        // a client that retries it is answered as a new deposit, not with the reply it got before the restore.
        var accounts = new AccountService.AccountServiceClient(server.Channel);
        var again = await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 1000, CurrencyCode = "EUR", RequestId = "after-0" });
        Assert.Equal((3L, 3L, 1100L), (again.Version, again.Position, again.BalanceMinor));
        var retried = await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 100, CurrencyCode = "EUR", RequestId = "before-1" });
        Assert.Equal((2L, 2L), (retried.Version, retried.Position));
        await ReadSide.AssertEqualsReplayAsync(server.Channel, ["ada"]);
    }

    /// <summary>
    /// After the event store went back to position 2 under a read store of <see cref="BackUpThenMoveOnAsync"/>'s later
    /// history: a new deposit takes position 3, and the read side shows it and nothing of the history the store lost.
    /// </summary>
    internal static async Task AssertTheReadSideFollowsTheOlderEventStoreAsync(ServerProcess server)
    {
        var accounts = new AccountService.AccountServiceClient(server.Channel);
        var deposit = await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 7, CurrencyCode = "EUR", RequestId = "restored-1" });
        Assert.Equal((3L, 3L, 107L), (deposit.Version, deposit.Position, deposit.BalanceMinor));

        var query = new QueryService.QueryServiceClient(server.Channel);
        var read = (await query.GetAccountAsync(new GetAccountRequest { AccountId = "ada", MinPosition = deposit.Position }, deadline: DateTime.UtcNow.AddSeconds(30))).Account;
        Assert.Equal((107L, 3L), (read.BalanceMinor, read.Version));
        var lines = await query.ListTransactionsAsync(new ListTransactionsRequest { AccountId = "ada", MinPosition = deposit.Position }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal([100L, 7L], lines.Transactions.Select(t => t.AmountMinor).OrderByDescending(a => a));
        var bob = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => query.GetAccountAsync(new GetAccountRequest { AccountId = "bob" }).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.NotFound, bob.StatusCode);
        await ReadSide.AssertEqualsReplayAsync(server.Channel, ["ada"]);
        Assert.True(await server.PrintedAsync("beyond the event store's head"), $"the server did not say why it rebuilt the read side:\n{server.Log}");
    }

    /// <summary>
    /// Ada's account opened with 100 (positions 1 and 2), the server stopped, <paramref name="backUp"/> run; then five more
    /// deposits of 1000 to Ada and Bob's account opened (positions 3 to 8), the read side caught up, and the server stopped
    /// again. Returns the head.
    /// </summary>
    internal static async Task<long> BackUpThenMoveOnAsync(ServerProcess server, Func<Task> backUp)
    {
        var accounts = new AccountService.AccountServiceClient(server.Channel);
        await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "ada", OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 100, CurrencyCode = "EUR", RequestId = "before-1" });
        Assert.Equal(0, await server.TerminateAsync(TimeSpan.FromSeconds(30)));
        await backUp();

        await server.RestartAsync();
        accounts = new AccountService.AccountServiceClient(server.Channel);
        for (var i = 0; i < 5; i++)
            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "ada", AmountMinor = 1000, CurrencyCode = "EUR", RequestId = $"after-{i}" });
        await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = "bob", OwnerName = "Bob Newer", CurrencyCode = "EUR" });
        await ReadSide.AssertEqualsReplayAsync(server.Channel, ["ada", "bob"]);
        var head = await ReadSide.HeadAsync(server.Channel);
        Assert.Equal(0, await server.TerminateAsync(TimeSpan.FromSeconds(30)));
        return head;
    }

    internal static void CopyFiles(string from, string to, string pattern)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, pattern)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }
}
