using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Server.Hosting;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// One embedded data directory, one server: a second server started on it refuses to start, naming the folder, and the
/// first serves on undisturbed; once the first is gone, even by kill -9, the folder is free again.
/// </summary>
public sealed class SharedDataDirectorySpecs
{
    [Fact]
    public async Task ASecondServerOnTheSameDataDirectory_RefusesToStart_NamingIt_UntilTheFirstIsGoneEvenByKill9()
    {
        var dir = KillUnderLoadSpecs.TempDirectory();
        await using var first = await ServerProcess.StartAsync(("Storage:DataDirectory", dir));
        var accounts = new AccountService.AccountServiceClient(first.Channel);
        var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Grace Hopper", CurrencyCode = "EUR" });

        var (_, exitCode, output) = await ServerProcess.RunToExitAsync(new ServerLaunch(("Storage:DataDirectory", dir)), TimeSpan.FromSeconds(60));

        Assert.True(exitCode != 0, $"exit code {exitCode}:\n{output}");
        Assert.Contains(dir, output);
        Assert.Contains("in use by another server", output);
        Assert.DoesNotContain("Now listening on", output);
        await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 100, CurrencyCode = "EUR" });

        first.Kill();
        await using var second = await ServerProcess.StartAsync(("Storage:DataDirectory", dir));
        var deposited = await new AccountService.AccountServiceClient(second.Channel).DepositMoneyAsync(
            new DepositMoneyRequest { AccountId = opened.AccountId, AmountMinor = 1, CurrencyCode = "EUR" });
        Assert.Equal(101, deposited.BalanceMinor);
        Assert.True(File.Exists(Path.Combine(dir, DataDirectoryLock.FileName)));
    }
}
