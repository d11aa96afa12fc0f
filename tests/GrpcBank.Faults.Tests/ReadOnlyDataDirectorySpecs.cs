using System.Diagnostics;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>An embedded server whose data directory it may not write to refuses to start, and harms nothing there.</summary>
public sealed class ReadOnlyDataDirectorySpecs
{
    [Fact]
    public async Task TheServerRefusesToStart_NamingThePath_AndTheExistingEventStoreStaysReadable()
    {
        // chmod does not stop root, and the tests run as root: the server must run as another user to meet a
        // directory it cannot write to. The postgres user exists wherever the PostgreSQL binaries are installed.
        Assert.SkipUnless(Environment.IsPrivilegedProcess && await SucceedsAsync("id", "-u", "postgres"),
            "needs root (to run the server as another user) and a 'postgres' user");
        var dir = KillUnderLoadSpecs.TempDirectory();
        var id = Guid.NewGuid().ToString("N")[..16];
        await using (var before = await ServerProcess.StartAsync(("Storage:DataDirectory", dir)))
        {
            var accounts = new AccountService.AccountServiceClient(before.Channel);
            await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Katherine Johnson", CurrencyCode = "USD" });
            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 4_200, CurrencyCode = "USD" });
        }
        var files = Directory.GetFiles(dir).ToDictionary(f => f, File.ReadAllBytes);

        Assert.True(await SucceedsAsync("chmod", "-R", "a-w", dir));
        Assert.True(await SucceedsAsync("chmod", "a+rx", Path.GetDirectoryName(dir)!));
        try
        {
            var (_, exitCode, output) = await ServerProcess.RunToExitAsync(
                new ServerLaunch(("Storage:DataDirectory", dir)) { AsUser = "postgres" }, TimeSpan.FromSeconds(60));

            Assert.True(exitCode != 0, $"exit code {exitCode}:\n{output}");
            Assert.Contains(dir, output);
            Assert.Contains("not writable", output);
            Assert.DoesNotContain("Now listening on", output);
        }
        finally
        {
            Assert.True(await SucceedsAsync("chmod", "-R", "u+w", dir));
        }
        foreach (var (file, bytes) in files) Assert.Equal(bytes, File.ReadAllBytes(file));

        await using var after = await ServerProcess.StartAsync(("Storage:DataDirectory", dir));
        var account = await new HistoryService.HistoryServiceClient(after.Channel).GetAccountAsOfAsync(
            new GetAccountAsOfRequest { AccountId = id, AsOfVersion = 2 });
        Assert.Equal((4_200, "Katherine Johnson"), (account.BalanceMinor, account.OwnerName));
    }

    private static async Task<bool> SucceedsAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }
}
