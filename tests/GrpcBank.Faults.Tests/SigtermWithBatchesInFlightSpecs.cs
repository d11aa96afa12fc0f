using System.Diagnostics;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Testing;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// SIGTERM while large batches (8,192 deposits each, atomic and independent) are in flight: the stop is not held for the
/// shutdown timeout, exit code 0 and no error logged; each batch answers OK (and every deposit it reports is there after a
/// restart) or UNAVAILABLE (an atomic batch then wrote nothing; an independent one's deposits are each there or not, and
/// sending it again applies each exactly once).
/// </summary>
public sealed class SigtermWithBatchesInFlightSpecs(PostgresServer postgres)
{
    private const int Commands = 8_192;

    [Fact]
    public async Task Embedded_BatchesInFlightAtTheStop_AnswerOkOrUnavailable_AndAreAppliedAllOrNothingOrExactlyOnceOnRetry() =>
        await StoppedWithBatchesInFlightAsync();

    [Fact]
    public async Task Postgres_BatchesInFlightAtTheStop_AnswerOkOrUnavailable_AndAreAppliedAllOrNothingOrExactlyOnceOnRetry() =>
        await StoppedWithBatchesInFlightAsync(("ConnectionStrings:Postgres", await postgres.CreateDatabaseAsync()));

    private static async Task StoppedWithBatchesInFlightAsync(params (string Key, string Value)[] settings)
    {
        var data = KillUnderLoadSpecs.TempDirectory();
        try
        {
            await using var server = await ServerProcess.StartAsync([("Storage:DataDirectory", data), .. settings]);
            var accounts = (await DepositLoad.OpenAccountsAsync(server.Channel, 16)).Accounts;
            var batches = Enumerable.Range(0, 4).Select(k => new ExecuteBatchRequest
            {
                Atomic = k % 2 == 0,
                Commands =
                {
                    Enumerable.Range(0, Commands).Select(i => new BatchCommand
                    {
                        Deposit = new DepositMoneyRequest
                        {
                            AccountId = accounts[i % accounts.Length], AmountMinor = 1, CurrencyCode = "EUR", RequestId = $"batch-{k}-{i}-{Guid.NewGuid():N}",
                        },
                    }),
                },
            }).ToList();
            var client = new BatchService.BatchServiceClient(server.Channel);
            var calls = batches.Select(b => Task.Run(async () =>
            {
                try
                {
                    return ((ExecuteBatchResponse?)await client.ExecuteBatchAsync(b), (RpcException?)null);
                }
                catch (RpcException e)
                {
                    return (null, e);
                }
            })).ToList();
            await Task.Delay(300, TestContext.Current.CancellationToken);
            var inFlight = calls.Count(c => !c.IsCompleted);

            var stopping = Stopwatch.StartNew();
            var exitCode = await server.TerminateAsync(TimeSpan.FromSeconds(60));
            stopping.Stop();
            var answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

            Assert.True(inFlight > 0, "every batch was answered before the signal");
            Assert.True(exitCode == 0, $"exit code {exitCode}:\n{server.Log}");
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s:\n{server.Log}");
            Assert.DoesNotContain("fail:", server.Log, StringComparison.Ordinal);
            Assert.DoesNotContain("crit:", server.Log, StringComparison.Ordinal);
            foreach (var (reply, error) in answers)
            {
                if (error is not null) Assert.True(error.StatusCode == StatusCode.Unavailable, $"{error.Status}");
                // An independent batch's commands each answer as their single RPC would: written, or UNAVAILABLE.
                foreach (var result in reply?.Results ?? [])
                    Assert.True(result.ResultCase == BatchResult.ResultOneofCase.Deposit || result.Error.Code == (int)StatusCode.Unavailable, $"{result}");
            }

            await server.RestartAsync();
            var stored = await StoredRequests.ReadAsync(server.Channel, accounts);
            for (var k = 0; k < batches.Count; k++)
            {
                var (reply, error) = answers[k];
                var commands = batches[k].Commands;
                for (var i = 0; i < commands.Count; i++)
                {
                    var at = stored.GetValueOrDefault(commands[i].Deposit.RequestId) ?? [];
                    if (reply?.Results[i] is { ResultCase: BatchResult.ResultOneofCase.Deposit } written)
                        Assert.True(at.Select(e => e.Version).SequenceEqual([written.Deposit.Version]),
                            $"batch {k}: command {i} answered at version {written.Deposit.Version}, stored at [{string.Join(", ", at)}]");
                    else if (batches[k].Atomic)
                        Assert.True(at.Count == 0, $"atomic batch {k} answered {error?.Status}, yet command {i} is stored at [{string.Join(", ", at)}]");
                    else
                        Assert.True(at.Count <= 1, $"batch {k}: command {i} stored at [{string.Join(", ", at)}]");
                }
            }

            // Sent again with the same request ids: each deposit applied exactly once.
            var restarted = new BatchService.BatchServiceClient(server.Channel);
            foreach (var batch in batches.Where(b => !b.Atomic))
                Assert.All((await restarted.ExecuteBatchAsync(batch)).Results, r => Assert.Equal(BatchResult.ResultOneofCase.Deposit, r.ResultCase));
            var again = await StoredRequests.ReadAsync(server.Channel, accounts);
            foreach (var command in batches.Where(b => !b.Atomic).SelectMany(b => b.Commands))
                Assert.Single(again.GetValueOrDefault(command.Deposit.RequestId) ?? []);
            TestContext.Current.SendDiagnosticMessage(
                $"{inFlight} of {batches.Count} in flight at the signal; answers: {string.Join(", ", answers.Select(a => a.Item2?.StatusCode.ToString() ?? $"OK ({a.Item1!.Results.Count(r => r.Error is null)} written)"))}; stop took {stopping.Elapsed.TotalMilliseconds:0} ms");
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }
}
