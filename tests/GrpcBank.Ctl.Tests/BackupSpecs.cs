using System.Collections.Concurrent;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Ctl.Tests;

/// <summary>
/// bankctl backup: an embedded data directory copied while a real server process writes to it, and a server started on
/// the copy.
/// </summary>
public sealed class BackupSpecs
{
    [Fact]
    public async Task ABackupTakenUnderWriteLoad_StartsAServer_ThatHasEveryDepositAcknowledgedBeforeIt_AndVerifiesClean()
    {
        var directory = Temp();
        var copy = Temp();
        await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", directory));
        var client = new AccountService.AccountServiceClient(server.Channel);
        string[] accounts = ["b0", "b1", "b2", "b3"];
        foreach (var id in accounts) await client.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Owner {id}", CurrencyCode = "EUR" });
        var acknowledged = new ConcurrentDictionary<string, long>();
        using var stop = new CancellationTokenSource();
        var writing = Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var id = accounts[(w + n) % accounts.Length];
                var reply = await client.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1 + n % 97, CurrencyCode = "EUR", RequestId = $"w{w}-{n}" });
                acknowledged.AddOrUpdate(id, reply.Version, (_, v) => Math.Max(v, reply.Version));
            }
        })));
        while (acknowledged.Values.Sum() < 400) await Task.Delay(20);

        var before = acknowledged.ToDictionary();
        var run = await Ctl.RunAsync(CancellationToken.None, "backup", directory, copy);
        var afterwards = acknowledged.Values.Sum();
        await Task.Delay(300);
        stop.Cancel();
        await writing;
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.True(acknowledged.Values.Sum() > afterwards, "the writers did not go on writing after the backup");
        Assert.Contains("events.db", run.Stdout);
        Assert.DoesNotContain(Directory.GetFiles(copy), f => Path.GetFileName(f) == "server.lock");

        await using var restored = await ServerProcess.StartAsync(("Storage:DataDirectory", copy));
        var verify = await Ctl.RunAsync(restored.Url, "verify");
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        var query = new QueryService.QueryServiceClient(restored.Channel);
        foreach (var (id, version) in before)
        {
            var account = (await query.GetAccountAsync(new GetAccountRequest { AccountId = id }, deadline: DateTime.UtcNow.AddSeconds(30))).Account;
            Assert.True(account.Version >= version, $"{id}: acknowledged at version {version} before the backup, at {account.Version} in it");
        }
        // The copy is a bank of its own that takes commands where its history ends.
        var restoredClient = new AccountService.AccountServiceClient(restored.Channel);
        var next = await restoredClient.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "b0", AmountMinor = 5, CurrencyCode = "EUR", RequestId = "after-restore" });
        var read = (await query.GetAccountAsync(new GetAccountRequest { AccountId = "b0", MinPosition = next.Position }, deadline: DateTime.UtcNow.AddSeconds(30))).Account;
        Assert.Equal((next.Version, next.BalanceMinor), (read.Version, read.BalanceMinor));
    }

    [Fact]
    public async Task ABackupIntoAFolderInUse_OrFromOneThatIsNoDataDirectory_IsRefused_AndTouchesNothing()
    {
        var notData = Temp();
        Directory.CreateDirectory(notData);
        var refused = await Ctl.RunAsync(CancellationToken.None, "backup", notData, Temp());
        Assert.Equal((1, true), (refused.ExitCode, refused.Stderr.Contains("has no events.db", StringComparison.Ordinal)));

        var directory = Temp();
        await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", directory));
        var inUse = Temp();
        Directory.CreateDirectory(inUse);
        await File.WriteAllTextAsync(Path.Combine(inUse, "events.db"), "someone else's");
        refused = await Ctl.RunAsync(CancellationToken.None, "backup", directory, inUse);
        Assert.Equal((1, true), (refused.ExitCode, refused.Stderr.Contains("is not empty", StringComparison.Ordinal)));
        Assert.Equal("someone else's", await File.ReadAllTextAsync(Path.Combine(inUse, "events.db")));
    }

    private static string Temp() => Path.Combine(Path.GetTempPath(), "grpcbank-backup", Guid.NewGuid().ToString("N"));
}
