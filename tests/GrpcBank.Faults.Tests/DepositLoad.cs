using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Writers sending deposits with unique request ids to a few accounts, remembering every request and every acknowledged
/// reply, and what the event store holds afterwards.
/// </summary>
public sealed class DepositLoad(string[] accounts)
{
    private readonly ConcurrentDictionary<string, DepositMoneyRequest> sent = new();
    private readonly ConcurrentDictionary<string, DepositMoneyResponse> acknowledged = new();
    private readonly ConcurrentDictionary<StatusCode, int> failures = new();

    public IReadOnlyDictionary<string, DepositMoneyResponse> Acknowledged => acknowledged;

    public IEnumerable<DepositMoneyRequest> Unacknowledged => sent.Values.Where(r => !acknowledged.ContainsKey(r.RequestId));

    public IReadOnlyDictionary<StatusCode, int> Failures => failures;

    public string[] Accounts => accounts;

    public static async Task<DepositLoad> OpenAccountsAsync(GrpcChannel channel, int count)
    {
        var client = new AccountService.AccountServiceClient(channel);
        var ids = Enumerable.Range(0, count).Select(i => $"load-{Guid.NewGuid():N}"[..20]).ToArray();
        foreach (var id in ids)
            await client.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Writer {id}", CurrencyCode = "EUR" });
        return new DepositLoad(ids);
    }

    /// <summary>Runs <paramref name="writers"/> writers on <paramref name="channel"/> until <paramref name="stop"/>; failures are counted, not thrown.</summary>
    public Task RunAsync(GrpcChannel channel, int writers, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var client = new AccountService.AccountServiceClient(channel);
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var request = new DepositMoneyRequest
                {
                    AccountId = accounts[(w + n) % accounts.Length],
                    AmountMinor = 1 + n % 97,
                    CurrencyCode = "EUR",
                    Reference = $"load {w}/{n}",
                    RequestId = $"w{w}-{n}-{Guid.NewGuid():N}",
                };
                sent[request.RequestId] = request;
                try
                {
                    acknowledged[request.RequestId] = await client.DepositMoneyAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
                }
                catch (RpcException e)
                {
                    failures.AddOrUpdate(e.StatusCode, 1, (_, c) => c + 1);
                    if (e.StatusCode != StatusCode.Unavailable) await Task.Delay(10); // a dead server: do not spin
                    else await Task.Delay(20);
                }
                catch (ObjectDisposedException)
                {
                    return; // the channel went with the killed server
                }
            }
        })));

    public DepositMoneyRequest Request(string requestId) => sent[requestId];

    /// <summary>The versions at which the accounts' streams hold each request id's events (<see cref="StoredRequests"/>).</summary>
    public async Task<Dictionary<string, List<long>>> StoredAsync(GrpcChannel channel) =>
        (await StoredRequests.ReadAsync(channel, accounts)).ToDictionary(r => r.Key, r => r.Value.Select(e => e.Version).ToList());

    /// <summary>
    /// After a fault has passed: a new deposit is written and read back at its position, every acknowledged deposit is
    /// stored once at the version it was acknowledged with, and the read side equals a replay of the streams.
    /// </summary>
    public async Task AssertCaughtUpAsync(GrpcChannel channel)
    {
        var after = await new AccountService.AccountServiceClient(channel).DepositMoneyAsync(
            new DepositMoneyRequest { AccountId = accounts[0], AmountMinor = 1, CurrencyCode = "EUR" }, deadline: DateTime.UtcNow.AddSeconds(30));
        var read = await new QueryService.QueryServiceClient(channel).GetAccountAsync(
            new GetAccountRequest { AccountId = accounts[0], MinPosition = after.Position }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(after.Version, read.Account.Version);
        var stored = await StoredAsync(channel);
        foreach (var (requestId, reply) in acknowledged)
            Assert.Equal([reply.Version], stored[requestId]);
        await ReadSide.AssertEqualsReplayAsync(channel, accounts);
    }
}
