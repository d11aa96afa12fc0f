using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Admin.V1;
using Grpc.Core;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Projection status, zero-downtime rebuild and dead letters, through gRPC. Runs on each store.</summary>
public abstract class AdminSpecs : BankSpecs
{
    private ProjectionService.ProjectionServiceClient Admin => new(Host.Channel);

    private async Task<GetProjectionStatusResponse> CaughtUpStatusAsync()
    {
        GetProjectionStatusResponse? last = null;
        try
        {
            return await Bank.EventuallyAsync(async () =>
            {
                last = await Admin.GetProjectionStatusAsync(new GetProjectionStatusRequest());
                return last.Projections.All(p => p.LagEvents == 0 && p.State == ProjectionState.Running) ? last : null;
            });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the projections did not catch up; last status: {last}");
            throw;
        }
    }

    [Fact]
    public async Task Status_ShowsEveryConsumerRunning_CaughtUpWithTheHead_WithAHeartbeat()
    {
        await Bank.OpenAsync(deposit: 100);

        var status = await CaughtUpStatusAsync();

        Assert.Equal(["payment-process", "read-side"], status.Projections.Select(p => p.Name).Order());
        Assert.All(status.Projections, p =>
        {
            Assert.True(p.HeadPosition >= 2);
            Assert.Equal(p.HeadPosition, p.Position);
            Assert.Equal(0, p.LagSeconds);
            Assert.Equal(0, p.DeadLetters);
            Assert.True((DateTime.UtcNow - p.LastPassAt.ToDateTime()).TotalSeconds < 30);
        });
    }

    [Fact]
    public async Task Rebuild_ReplaysIntoANewReadSide_WhileCommandsContinue_AndLosesNothing()
    {
        var accounts = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Bank.OpenAsync(deposit: 1_000)));
        using var stop = new CancellationTokenSource();
        var deposits = new long[accounts.Length];
        var writers = accounts.Select((id, i) => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" });
                Interlocked.Increment(ref deposits[i]);
            }
        })).ToArray();

        var phases = new List<RebuildPhase>();
        using (var call = Admin.RebuildProjections(new RebuildProjectionsRequest()))
            while (await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken))
                phases.Add(call.ResponseStream.Current.Phase);
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.Equal(RebuildPhase.Done, phases[^1]);
        Assert.Contains(RebuildPhase.Switched, phases);
        var head = await Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);
        for (var i = 0; i < accounts.Length; i++)
            Assert.Equal(1_000 + deposits[i], (await Bank.AccountAsync(accounts[i], head)).BalanceMinor);
    }

    [Fact]
    public async Task AnEventTheConsumersCannotRead_IsDeadLettered_AndTheRestKeepsFlowing()
    {
        // Both consumers read a payment's debit (the payment process reacts to saga-settled ones).
        var first = await AppendUnreadableAsync("accounts.PaymentDebited.v2", """{"movement":"lots"}""");
        var other = await Bank.OpenAsync(deposit: 7);

        var deadLetters = await Bank.EventuallyAsync(async () =>
        {
            var page = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest());
            // The count and the page are two reads: wait for the page itself to hold both consumers' letters.
            return page.DeadLetters.Count == 2 && page.TotalSize == 2 ? page : null;
        });
        var status = await CaughtUpStatusAsync();
        var retried = await Admin.RetryDeadLettersAsync(new RetryDeadLettersRequest());

        Assert.Equal(["payment-process", "read-side"], deadLetters.DeadLetters.Select(d => d.Consumer).Order());
        Assert.All(deadLetters.DeadLetters, d => Assert.Equal(("accounts.PaymentDebited.v2", 3L), (d.EventType, d.Position - first + 1)));
        Assert.All(status.Projections, p => Assert.Equal(1, p.DeadLetters));
        Assert.Equal(7, (await Bank.AccountAsync(other)).BalanceMinor);
        Assert.Equal((0, 2), (retried.Retried, retried.Remaining));
    }

    [Fact]
    public async Task AnUnreadableEventOfAKindThePaymentProcessHasNoUseFor_IsDeadLetteredByTheReadSideAlone()
    {
        // The payment process never decodes a deposit (PaymentProcess.ReactsTo), so it cannot fail on one.
        await AppendUnreadableAsync("accounts.MoneyDeposited.v1", """{"amountMinor":"lots"}""");
        var other = await Bank.OpenAsync(deposit: 7);

        await Bank.EventuallyAsync(async () =>
        {
            var page = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest());
            return page.TotalSize > 0 ? page : null;
        });
        var status = await CaughtUpStatusAsync();
        var deadLetters = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest());

        var letter = Assert.Single(deadLetters.DeadLetters);
        Assert.Equal(("read-side", "accounts.MoneyDeposited.v1"), (letter.Consumer, letter.EventType));
        Assert.Equal(["payment-process: 0", "read-side: 1"], status.Projections.Select(p => $"{p.Name}: {p.DeadLetters}").Order());
        Assert.Equal(7, (await Bank.AccountAsync(other)).BalanceMinor);
    }

    /// <summary>
    /// Appends, as version 3 of a new account's stream, an event with a payload no version of the bank could have written
    /// (only a bug or a bad manual fix does this); returns the stream's first position.
    /// </summary>
    private async Task<long> AppendUnreadableAsync(string eventType, string dataJson)
    {
        var id = await Bank.OpenAsync(deposit: 100);
        var store = Host.Get<IEventStore>();
        var stream = await store.ReadStreamAsync($"account-{id}", 1, 10, CancellationToken.None);
        await store.AppendAsync(new AppendRequest($"account-{id}", stream.Count,
            [new EventData(Guid.NewGuid(), eventType, dataJson, "{}")], null, DateTimeOffset.UtcNow), CancellationToken.None);
        return stream[0].Position;
    }

    [Fact]
    public async Task MalformedAdminRequests_AreInvalidArgument()
    {
        await Rpc.Invalid(() => Admin.ListDeadLettersAsync(new ListDeadLettersRequest { PageSize = 5_000, AfterPosition = -1 }).ResponseAsync,
            "page_size", "after_position");
    }
}

public sealed class StoppedRelayAdminSpecs
{
    [Fact]
    public async Task Status_SaysStopped_WhenThisServerDoesNotRunTheRelay()
    {
        await using var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        await new Bank(host).OpenAsync();

        var status = await new ProjectionService.ProjectionServiceClient(host.Channel).GetProjectionStatusAsync(new GetProjectionStatusRequest());

        Assert.All(status.Projections, p => Assert.Equal((ProjectionState.Stopped, 1L), (p.State, p.LagEvents)));
    }
}

public sealed class PoisonAtStartUpSpecs
{
    [Fact]
    public async Task AnUnreadableEventMetWhileRebuildingAnEmptyReadSide_IsDeadLettered_AndTheRelayStillStarts()
    {
        await using var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        var bank = new Bank(host);
        var id = await bank.OpenAsync(deposit: 100);
        await host.Get<IEventStore>().AppendAsync(new AppendRequest($"account-{id}", 2,
            [new EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1", """{"amountMinor":"lots"}""", "{}")], null, DateTimeOffset.UtcNow),
            CancellationToken.None);
        var other = await bank.OpenAsync(deposit: 5);

        // Delete the read store: the relay rebuilds it from the event store before delivering the outbox.
        await host.RestartAsync(() =>
        {
            foreach (var file in Directory.GetFiles(host.DataDirectory, "read.db*")) File.Delete(file);
        }, ("Relay:Enabled", "true"));

        Assert.Equal(5, (await bank.AccountAsync(other, minPosition: 1)).BalanceMinor);
        Assert.Equal(100, (await bank.AccountAsync(id)).BalanceMinor);
        var deadLetters = await new ProjectionService.ProjectionServiceClient(host.Channel).ListDeadLettersAsync(new ListDeadLettersRequest());
        Assert.Contains(deadLetters.DeadLetters, d => d.Consumer == "read-side" && d.StreamId == $"account-{id}");
    }
}
