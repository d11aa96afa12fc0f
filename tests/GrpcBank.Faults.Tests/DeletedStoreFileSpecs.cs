using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// An embedded store file deleted (or moved away) under the running server: SQLite in WAL mode would go on committing into
/// the unlinked file, so commands were acknowledged that no restart could find. The server refuses to commit instead.
/// </summary>
public sealed class DeletedStoreFileSpecs
{
    [Fact]
    public async Task AnEventStoreFileDeletedWhileTheServerRuns_AcknowledgesNoMoreCommands_TheyAreUnavailable()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the server can tell a deleted file only where /proc/self/fd names it (Linux)");
        var id = Guid.NewGuid().ToString("N")[..16];
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()));
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
        await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 100, CurrencyCode = "EUR" });

        foreach (var file in new[] { "events.db", "events.db-wal", "events.db-shm" }) File.Delete(Path.Combine(host.DataDirectory, file));

        for (var i = 0; i < 3; i++)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => host.Accounts.DepositMoneyAsync(
                new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", RequestId = $"{id}-{i}" }).ResponseAsync);
            Assert.True(e.StatusCode == StatusCode.Unavailable, $"deposit {i}: {e.StatusCode} {e.Status.Detail}");
        }
        Assert.False(File.Exists(Path.Combine(host.DataDirectory, "events.db")), "the server made a new, empty event store");
    }
}
