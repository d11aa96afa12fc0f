using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Query.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// The embedded stores' disk running full is the infrastructure's passing trouble, not a fault of the bank's own: commands
/// are UNAVAILABLE (safe to retry), write nothing, and succeed again, with the read side catching up, once space is freed.
/// Provoked for real, on a tmpfs of a few MiB.
/// </summary>
public sealed class DiskFullSpecs
{
    [Fact]
    public async Task WhenTheDataDirectorysDiskIsFull_CommandsAreUnavailable_WriteNothing_AndSucceedOnceSpaceIsFreed()
    {
        var (disk, whyNot) = await TinyDisk.TryMountAsync(megabytes: 4);
        Assert.SkipWhen(disk is null, whyNot ?? "");
        await using var _ = disk;
        var id = Guid.NewGuid().ToString("N")[..16];
        await using var host = await BankHost.StartAsync(("Storage:DataDirectory", Path.Combine(disk!.Path, "data")));
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Grace Hopper", CurrencyCode = "EUR" });
        var filler = disk.Fill(leftBytes: 128 * 1024);

        DepositMoneyRequest Deposit(int i) => new()
        {
            AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", Reference = new string('r', 400), RequestId = $"{id}-{i}",
        };
        var (acknowledged, refused) = (new List<int>(), new List<(int Index, RpcException Error)>());
        for (var i = 0; i < 5_000 && refused.Count < 20; i++)
        {
            try
            {
                await host.Accounts.DepositMoneyAsync(Deposit(i));
                acknowledged.Add(i);
            }
            catch (RpcException e)
            {
                refused.Add((i, e));
            }
        }

        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.True(r.Error.StatusCode == StatusCode.Unavailable,
            $"deposit {r.Index}: {r.Error.StatusCode} {r.Error.Status.Detail}"));

        File.Delete(filler);
        // Each refused deposit, retried with its request id, is written now, once; the acknowledged ones are not repeated.
        DepositMoneyResponse last = null!;
        foreach (var (index, _) in refused) last = await host.Accounts.DepositMoneyAsync(Deposit(index));
        foreach (var index in acknowledged.TakeLast(3)) await host.Accounts.DepositMoneyAsync(Deposit(index));
        var deposits = acknowledged.Count + refused.Count;
        Assert.Equal((1L + deposits, deposits), (last.Version, last.BalanceMinor));

        var account = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = last.Position },
            deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal((1L + deposits, (long)deposits), (account.Account.Version, account.Account.BalanceMinor));
    }

    [Fact]
    public async Task ABatchOnAFullDisk_AnswersEachCommandUnavailable_AndLogsTheCauseOnce_NotOncePerCommand()
    {
        var (disk, whyNot) = await TinyDisk.TryMountAsync(megabytes: 4);
        Assert.SkipWhen(disk is null, whyNot ?? "");
        await using var _ = disk;
        var logs = new CapturedLogs();
        await using var host = await BankHost.StartAsync(
            new Dictionary<string, string> { ["Storage:DataDirectory"] = Path.Combine(disk!.Path, "data") },
            builder => builder.Logging.AddProvider(logs));
        var ids = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid().ToString("N")[..16]).ToArray();
        foreach (var id in ids)
            await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Grace Hopper", CurrencyCode = "EUR" });
        disk.Fill(leftBytes: 0);
        var batch = new ExecuteBatchRequest();
        for (var i = 0; i < 500; i++)
            batch.Commands.Add(new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = ids[i % ids.Length], AmountMinor = 1, CurrencyCode = "EUR", Reference = new string('r', 400) } });

        var results = (await new BatchService.BatchServiceClient(host.Channel).ExecuteBatchAsync(batch)).Results;

        var failed = results.Where(r => r.ResultCase == BatchResult.ResultOneofCase.Error).ToList();
        Assert.True(failed.Count > 400, $"{failed.Count} of 500 failed: the disk was not full");
        Assert.All(failed, r => Assert.Equal((int)StatusCode.Unavailable, r.Error.Code));
        var warnings = logs.Lines.Count(line => line.Contains("ExecuteBatch failed on a transient infrastructure fault"));
        Assert.True(warnings == 1, $"{warnings} warnings with their stack traces for one batch");
        Assert.Contains(logs.Lines, line => line.Contains($"{failed.Count} commands of this batch failed on transient infrastructure faults"));
    }
}
