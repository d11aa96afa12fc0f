using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Payments.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// Writers moving money between a few funded accounts, each transfer with its own request id: some send
/// <c>TransferMoney</c> one at a time, others atomic batches of transfers. Remembers every request and every
/// acknowledged reply.
/// </summary>
public sealed class TransferLoad(string[] accounts, long funding)
{
    private const int BatchSize = 3;

    private readonly ConcurrentDictionary<string, TransferMoneyRequest> transfers = new();
    private readonly ConcurrentDictionary<string, TransferMoneyRequest> singles = new();
    private readonly ConcurrentDictionary<string, ExecuteBatchRequest> batches = new();
    private readonly ConcurrentDictionary<string, TransferMoneyResponse> acknowledged = new();
    private readonly ConcurrentDictionary<StatusCode, int> failures = new();

    public string[] Accounts => accounts;

    /// <summary>What every account was funded with before the load: the bank's total, which transfers never change.</summary>
    public long Total => accounts.Length * funding;

    /// <summary>Every transfer sent, alone or in a batch, by request id.</summary>
    public IReadOnlyDictionary<string, TransferMoneyRequest> Transfers => transfers;

    public IReadOnlyDictionary<string, TransferMoneyResponse> Acknowledged => acknowledged;

    /// <summary>Calls that failed, by status (a batch counts once).</summary>
    public IReadOnlyDictionary<StatusCode, int> Failures => failures;

    public IEnumerable<TransferMoneyRequest> UnacknowledgedSingles => singles.Values.Where(r => !acknowledged.ContainsKey(r.RequestId));

    public IEnumerable<TransferMoneyRequest> AcknowledgedSingles => singles.Values.Where(r => acknowledged.ContainsKey(r.RequestId));

    public IEnumerable<ExecuteBatchRequest> UnacknowledgedBatches => batches.Values.Where(b => !IsAcknowledged(b));

    public IEnumerable<ExecuteBatchRequest> AcknowledgedBatches => batches.Values.Where(IsAcknowledged);

    private bool IsAcknowledged(ExecuteBatchRequest batch) => batch.Commands.All(c => acknowledged.ContainsKey(c.Transfer.RequestId));

    public static async Task<TransferLoad> OpenAccountsAsync(GrpcChannel channel, int count, long funding)
    {
        var client = new AccountService.AccountServiceClient(channel);
        var ids = Enumerable.Range(0, count).Select(_ => $"mover-{Guid.NewGuid():N}"[..20]).ToArray();
        foreach (var id in ids)
        {
            await client.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Mover {id}", CurrencyCode = "EUR" });
            await client.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = funding, CurrencyCode = "EUR" });
        }
        return new TransferLoad(ids, funding);
    }

    /// <summary>Runs the writers on <paramref name="channel"/> until <paramref name="stop"/>; failed calls are counted (<see cref="Failures"/>), not thrown.</summary>
    public Task RunAsync(GrpcChannel channel, int singleWriters, int batchWriters, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, singleWriters + batchWriters).Select(w => Task.Run(async () =>
        {
            var payments = new PaymentService.PaymentServiceClient(channel);
            var batchService = new BatchService.BatchServiceClient(channel);
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    if (w < singleWriters)
                    {
                        var request = Transfer(w, n);
                        singles[request.RequestId] = request;
                        acknowledged[request.RequestId] = await payments.TransferMoneyAsync(request, deadline: DateTime.UtcNow.AddSeconds(10));
                    }
                    else
                    {
                        var batch = new ExecuteBatchRequest { Atomic = true };
                        batch.Commands.AddRange(Enumerable.Range(0, BatchSize).Select(i => new BatchCommand { Transfer = Transfer(w, n * BatchSize + i) }));
                        batches[batch.Commands[0].Transfer.RequestId] = batch;
                        var reply = await batchService.ExecuteBatchAsync(batch, deadline: DateTime.UtcNow.AddSeconds(10));
                        foreach (var (command, result) in batch.Commands.Zip(reply.Results))
                            acknowledged[command.Transfer.RequestId] = result.Transfer
                                ?? throw new InvalidOperationException($"{command.Transfer.RequestId} was refused: {result.Error}");
                    }
                }
                catch (RpcException e)
                {
                    failures.AddOrUpdate(e.StatusCode, 1, (_, c) => c + 1);
                    if (e.StatusCode == StatusCode.Unavailable) await Task.Delay(20); // the server is gone or going: do not spin
                }
                catch (ObjectDisposedException)
                {
                    return; // the channel went with the killed server
                }
            }
        })));

    /// <summary>Writer <paramref name="w"/>'s <paramref name="n"/>th transfer: between two different accounts, small enough never to be refused.</summary>
    private TransferMoneyRequest Transfer(int w, int n)
    {
        var from = (w * 7 + n) % accounts.Length;
        var to = (from + 1 + n / accounts.Length % (accounts.Length - 1)) % accounts.Length;
        var request = new TransferMoneyRequest
        {
            FromAccountId = accounts[from],
            ToAccountId = accounts[to],
            AmountMinor = 1 + (n * 31 + w) % 500,
            CurrencyCode = "EUR",
            Reference = $"move {w}/{n}",
            RequestId = $"m{w}-{n}-{Guid.NewGuid():N}",
        };
        transfers[request.RequestId] = request;
        return request;
    }

    /// <summary>The transfer's events in the accounts' streams (<see cref="StoredRequests"/>): one in its payer's, one in its payee's, nothing else.</summary>
    public void AssertStoredWhole(Dictionary<string, List<(string Account, long Version)>> stored, string requestId)
    {
        var transfer = transfers[requestId];
        Assert.True(stored.TryGetValue(requestId, out var events), $"{requestId} is not stored");
        Assert.Equal(new[] { transfer.FromAccountId, transfer.ToAccountId }.Order(StringComparer.Ordinal), events.Select(e => e.Account).Order(StringComparer.Ordinal));
    }

    /// <summary>Σ the accounts' balances on the write side (folded from their events by HistoryService).</summary>
    public async Task<long> WriteSideTotalAsync(GrpcChannel channel)
    {
        var history = new HistoryService.HistoryServiceClient(channel);
        var now = Timestamp.FromDateTime(DateTime.UtcNow.AddMinutes(1));
        var total = 0L;
        foreach (var id in accounts)
            total += (await history.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfTime = now })).BalanceMinor;
        return total;
    }
}
