using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// kill -9 of the server process while money moves (transfers one at a time and in atomic batches): every acknowledged
/// transfer is stored whole (its debit and its credit) exactly once, one whose answer was lost is stored whole or not at
/// all, never half, the bank's total never changes, and retrying with the request ids completes what was lost, once.
/// </summary>
public sealed class KillUnderTransferLoadSpecs(PostgresServer postgres)
{
    private const long Funding = 1_000_000;

    [Fact]
    public async Task Embedded_KilledWhileMoneyMoves_KeepsEveryTransferWholeAndOnce_AndTheTotal() =>
        await KilledWhileMoneyMovesAsync(("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()));

    [Fact]
    public async Task Postgres_KilledWhileMoneyMoves_KeepsEveryTransferWholeAndOnce_AndTheTotal() =>
        await KilledWhileMoneyMovesAsync(
            ("Storage:DataDirectory", KillUnderLoadSpecs.TempDirectory()), ("ConnectionStrings:Postgres", await postgres.CreateDatabaseAsync()));

    private static async Task KilledWhileMoneyMovesAsync(params (string Key, string Value)[] settings)
    {
        await using var server = await ServerProcess.StartAsync(settings);
        var load = await TransferLoad.OpenAccountsAsync(server.Channel, 6, Funding);
        using var stop = new CancellationTokenSource();
        await KillUnderLoadSpecs.KillAfterAsync(
            server, () => load.Acknowledged.Count, stop, load.RunAsync(server.Channel, singleWriters: 4, batchWriters: 2, stop.Token));
        var acknowledged = load.Acknowledged.ToDictionary();
        var (singles, batches) = (load.UnacknowledgedSingles.ToList(), load.UnacknowledgedBatches.ToList());

        await server.RestartAsync();
        var stored = await StoredRequests.ReadAsync(server.Channel, load.Accounts);
        foreach (var (requestId, _) in acknowledged) load.AssertStoredWhole(stored, requestId);
        var unanswered = load.Transfers.Keys.Where(id => !acknowledged.ContainsKey(id)).ToList();
        var committed = unanswered.Where(stored.ContainsKey).ToList();
        foreach (var requestId in committed) load.AssertStoredWhole(stored, requestId);
        Assert.Equal(load.Total, await load.WriteSideTotalAsync(server.Channel));

        // Every acknowledged payment reads COMPLETED, and retrying it answers the same and writes nothing.
        var query = new QueryService.QueryServiceClient(server.Channel);
        var payments = new PaymentService.PaymentServiceClient(server.Channel);
        var head = await ReadSide.HeadAsync(server.Channel);
        foreach (var (requestId, reply) in acknowledged)
        {
            var payment = (await query.GetPaymentAsync(new GetPaymentRequest { PaymentId = reply.PaymentId, MinPosition = head })).Payment;
            Assert.Equal((PaymentStatus.Completed, load.Transfers[requestId].AmountMinor), (payment.Status, payment.AmountMinor));
        }
        foreach (var request in load.AcknowledgedSingles.ToList())
            Assert.Equal(acknowledged[request.RequestId], await payments.TransferMoneyAsync(request));
        var batchService = new BatchService.BatchServiceClient(server.Channel);
        foreach (var batch in load.AcknowledgedBatches.ToList())
            Assert.Equal(batch.Commands.Select(c => acknowledged[c.Transfer.RequestId]),
                (await batchService.ExecuteBatchAsync(batch)).Results.Select(r => r.Transfer));
        Assert.Equal(head, await ReadSide.HeadAsync(server.Channel));

        // Retrying what was not acknowledged, alone or as its batch, leaves every transfer stored exactly once.
        foreach (var request in singles) await payments.TransferMoneyAsync(request);
        foreach (var batch in batches)
            Assert.All((await batchService.ExecuteBatchAsync(batch)).Results, r => Assert.Equal(BatchResult.ResultOneofCase.Transfer, r.ResultCase));
        stored = await StoredRequests.ReadAsync(server.Channel, load.Accounts);
        foreach (var requestId in load.Transfers.Keys) load.AssertStoredWhole(stored, requestId);
        Assert.Equal(load.Transfers.Count, stored.Count);
        Assert.Equal(load.Total, await load.WriteSideTotalAsync(server.Channel));

        await ReadSide.AssertEqualsReplayAsync(server.Channel, load.Accounts);
        TestContext.Current.SendDiagnosticMessage(
            $"{acknowledged.Count} transfers acknowledged, {unanswered.Count} in flight at the kill ({committed.Count} of them had committed)");
    }
}
