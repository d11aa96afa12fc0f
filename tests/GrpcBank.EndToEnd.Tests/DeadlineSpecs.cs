using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Deadlines are honoured end to end, and a call cut off by one never half-writes.</summary>
public sealed class DeadlineSpecs
{
    [Fact]
    public async Task CommandsCutOffByTheirDeadline_AreWrittenWholeOrNotAtAll_AndTheirRetriesCompleteThemOnce()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        var bank = new Bank(host);
        var id = await bank.OpenAsync();
        var requests = Enumerable.Range(1, 60)
            .Select(i => new DepositMoneyRequest { AccountId = id, AmountMinor = i, CurrencyCode = "EUR", RequestId = $"deadline-{i}" })
            .ToList();

        var answers = await Task.WhenAll(requests.Select(async (r, i) =>
        {
            try
            {
                // Deadlines from already past to a few milliseconds: many calls end while their command is under way.
                await bank.Accounts.DepositMoneyAsync(r, deadline: DateTime.UtcNow.AddMilliseconds(i % 6 - 1));
                return StatusCode.OK;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Internal && e.GetRpcStatus() is null)
            {
                // A deadline that ends the call while its request is still arriving may reset the HTTP/2 stream, and a reset
                // that reaches the client before its own timer is heard as INTERNAL (NO_ERROR and INTERNAL_ERROR map to it in
                // the gRPC spec, and grpc-dotnet follows it) or as CANCELLED (CANCEL). The transport's, not the bank's: the
                // bank's INTERNAL carries an ErrorInfo with its error id, and is still refused below.
                return StatusCode.Cancelled;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }));
        var retried = new List<DepositMoneyResponse>();
        foreach (var r in requests) retried.Add(await bank.Accounts.DepositMoneyAsync(r));
        var events = (await new HistoryService.HistoryServiceClient(host.Channel).ReadStreamAsync(
            new ReadStreamRequest { StreamId = $"account-{id}", MaxCount = 1_000 })).Events;

        Assert.Contains(StatusCode.DeadlineExceeded, answers);
        Assert.All(answers, code => Assert.Contains(code, new[] { StatusCode.OK, StatusCode.DeadlineExceeded, StatusCode.Cancelled }));
        Assert.Equal(1 + requests.Count, events.Count);
        Assert.Equal(Enumerable.Range(1, 60).Sum(), retried.Max(r => r.BalanceMinor));
        Assert.Equal(requests.Count, retried.Select(r => r.Version).Distinct().Count());
    }

    [Fact]
    public async Task AReadWhoseDeadlineIsMonthsAway_IsAnswered_WithOrWithoutMinPosition()
    {
        // A deadline further away than the longest wait .NET's timers take (~49.7 days): some clients set one instead of none.
        await using var host = await BankHost.StartEmbeddedAsync();
        var bank = new Bank(host);
        var id = await bank.OpenAsync();
        var deposited = await bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 5, CurrencyCode = "EUR" });

        // With min_position first: the read side then holds the deposit for the read without it.
        foreach (var minPosition in new[] { deposited.Position, 0L })
        {
            var answer = await bank.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = minPosition },
                deadline: DateTime.UtcNow.AddDays(60));
            Assert.Equal(5, answer.Account.BalanceMinor);
        }
    }
}
