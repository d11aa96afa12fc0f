using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Server.Batch;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>bank.batch.v1.BatchService/ExecuteBatch end to end: independent and atomic batches, retries, limits. Runs on each store.</summary>
public abstract class BatchSpecs : BankSpecs
{
    private BatchService.BatchServiceClient Batches => new(Host.Channel);

    private static BatchCommand Deposit(string account, long amount, string requestId = "") =>
        new() { Deposit = new DepositMoneyRequest { AccountId = account, AmountMinor = amount, CurrencyCode = "EUR", RequestId = requestId } };

    private static BatchCommand Withdraw(string account, long amount, string requestId = "") =>
        new() { Withdraw = new WithdrawMoneyRequest { AccountId = account, AmountMinor = amount, CurrencyCode = "EUR", RequestId = requestId } };

    private static BatchCommand Transfer(string from, string to, long amount, string requestId = "") =>
        new() { Transfer = new TransferMoneyRequest { FromAccountId = from, ToAccountId = to, AmountMinor = amount, CurrencyCode = "EUR", RequestId = requestId } };

    private async Task<IReadOnlyList<BatchResult>> RunAsync(bool atomic, params BatchCommand[] commands) =>
        (await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = atomic, Commands = { commands } })).Results;

    private Task<long> HeadAsync() => Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

    private async Task<long> BalanceAsync(string account) => (await Bank.AccountAsync(account, await HeadAsync())).BalanceMinor;

    [Fact]
    public async Task AnIndependentBatch_AnswersEachCommand_AndAFailingOneAmongGoodOnesFailsAlone()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1_000), await Bank.OpenAsync());

        var results = await RunAsync(false,
            Deposit(a, 100), Withdraw(b, 5_000), Transfer(a, b, 300), Deposit("nobody", 1), Deposit(a, 0));

        Assert.Equal(BatchResult.ResultOneofCase.Deposit, results[0].ResultCase);
        Assert.Equal((Code.FailedPrecondition, "INSUFFICIENT_FUNDS"), ((Code)results[1].Error.Code, results[1].Error.GetDetail<ErrorInfo>().Reason));
        Assert.Equal(BatchResult.ResultOneofCase.Transfer, results[2].ResultCase);
        Assert.Equal(Code.NotFound, (Code)results[3].Error.Code);
        Assert.Equal(Code.InvalidArgument, (Code)results[4].Error.Code);
        Assert.Equal("commands[4].deposit.amount_minor", Assert.Single(results[4].Error.GetDetail<BadRequest>().FieldViolations).Field);
        Assert.Equal((800L, 300L), (await BalanceAsync(a), await BalanceAsync(b)));
    }

    [Fact]
    public async Task AnIndependentBatch_IsDecidedInOrder_EachCommandOnWhatTheOnesBeforeItLeave()
    {
        var (a, b) = (await Bank.OpenAsync(), await Bank.OpenAsync());

        // Each withdrawal is covered only by the deposit just before it, the transfer only by the deposit before it.
        BatchCommand[] commands =
            [.. Enumerable.Range(0, 50).SelectMany(_ => new[] { Deposit(a, 10), Withdraw(a, 10) }), Deposit(a, 150), Transfer(a, b, 150)];
        var results = await RunAsync(false, commands);

        var positions = results.Select(r => r.ResultCase switch
        {
            BatchResult.ResultOneofCase.Deposit => r.Deposit.Position,
            BatchResult.ResultOneofCase.Withdraw => r.Withdraw.Position,
            BatchResult.ResultOneofCase.Transfer => r.Transfer.Position,
            _ => throw new Xunit.Sdk.XunitException($"refused: {r.Error}"),
        }).ToList();
        Assert.Equal(positions.Order(), positions);
        Assert.Equal(positions.Count, positions.Distinct().Count());
        Assert.Equal((0L, 150L), (await BalanceAsync(a), await BalanceAsync(b)));
    }

    [Fact]
    public async Task IndependentBatchesAndSingleDeposits_OnTheSameAccountsAtOnce_AreEachWrittenOnce()
    {
        var accounts = new List<string>();
        for (var i = 0; i < 5; i++) accounts.Add(await Bank.OpenAsync());
        var expected = accounts.ToDictionary(a => a, _ => 0L);
        var batches = new List<BatchCommand[]>();
        for (var b = 0; b < 4; b++)
        {
            // Each batch writes every account many times over, so it chains on its own writes and rests on the batches
            // and single deposits committed, or still committing, before it.
            var commands = Enumerable.Range(0, 200).Select(i => Deposit(accounts[(b + i) % accounts.Count], 1 + i % 3)).ToArray();
            foreach (var c in commands) expected[c.Deposit.AccountId] += c.Deposit.AmountMinor;
            batches.Add(commands);
        }
        var singles = Enumerable.Range(0, 200).Select(i => accounts[i % accounts.Count]).ToList();
        foreach (var account in singles) expected[account] += 10;

        var running = batches.Select(commands => RunAsync(false, commands)).ToList();
        var alone = singles.Select(account => Bank.Accounts.DepositMoneyAsync(
            new DepositMoneyRequest { AccountId = account, AmountMinor = 10, CurrencyCode = "EUR" }).ResponseAsync).ToList();
        await Task.WhenAll(alone);

        foreach (var results in await Task.WhenAll(running))
            Assert.All(results, r => Assert.Equal(BatchResult.ResultOneofCase.Deposit, r.ResultCase));
        foreach (var account in accounts) Assert.Equal(expected[account], await BalanceAsync(account));
    }

    [Fact]
    public async Task AnAtomicBatch_DecidesInOrder_AndWritesEverythingInOneCommit()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1_000), await Bank.OpenAsync());

        // The withdrawal from b is covered only by the transfer before it in the same batch.
        var results = await RunAsync(true, Deposit(a, 100), Transfer(a, b, 500), Withdraw(b, 400));

        Assert.Equal((1_100L, 100L), (results[0].Deposit.BalanceMinor, results[2].Withdraw.BalanceMinor));
        Assert.Single(new[] { results[0].Deposit.Position, results[1].Transfer.Position, results[2].Withdraw.Position }.Distinct());
        Assert.Equal(await HeadAsync(), results[2].Withdraw.Position);
        Assert.Equal((600L, 100L), (await BalanceAsync(a), await BalanceAsync(b)));
    }

    [Fact]
    public async Task AnAtomicBatchWithAFailingCommand_WritesNothing_AndTheFailureNamesItsIndex()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1_000), await Bank.OpenAsync());
        var head = await HeadAsync();

        var info = await Rejected("INSUFFICIENT_FUNDS", () => RunAsync(true,
            Deposit(a, 100, Rpc.NewId()), Transfer(a, b, 500), Withdraw(b, 400), Transfer(b, a, 200)));

        Assert.Equal("3", info.Metadata["index"]);
        Assert.Equal(head, await HeadAsync());
        Assert.Equal((1_000L, 0L), (await BalanceAsync(a), await BalanceAsync(b)));
        var e = await Fails(StatusCode.NotFound, () => RunAsync(true, Deposit(a, 1), Deposit("nobody", 1)));
        Assert.StartsWith("commands[1]: ", e.Status.Detail);
        Assert.Equal(head, await HeadAsync());
    }

    [Fact]
    public async Task ABatchSentAgainWithItsRequestIds_GetsItsFirstAnswers_AndWritesNothingMore()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1_000), await Bank.OpenAsync());
        foreach (var atomic in new[] { true, false })
        {
            BatchCommand[] commands = [Deposit(a, 100, Rpc.NewId()), Transfer(a, b, 250, Rpc.NewId()), Withdraw(b, 50, Rpc.NewId())];
            var first = await RunAsync(atomic, commands);
            var head = await HeadAsync();

            var again = await RunAsync(atomic, commands);

            Assert.Equal(first, again);
            Assert.Equal(head, await HeadAsync());
            // A command of the batch sent alone with its request id is the same request: it gets the same answer.
            var alone = await Bank.Accounts.DepositMoneyAsync(commands[0].Deposit);
            Assert.Equal(first[0].Deposit, alone);
        }
        Assert.Equal((1_000L + 2 * (100 - 250), 2L * (250 - 50)), (await BalanceAsync(a), await BalanceAsync(b)));
    }

    /// <summary>
    /// A request id used by two different commands of one independent batch belongs to its first use, as when the group
    /// writes that one: the later is refused as reused. The first use here is left to run on its own (it rests on a
    /// command whose id was logged before, so its append in the group cannot commit), and the later one, on another
    /// account, ran beside it and logged the id first: the batch's earlier command was then refused for its later one.
    /// </summary>
    [Fact]
    public async Task ARequestIdUsedTwiceInAnIndependentBatch_IsItsFirstUses_EvenWhenThatOneRunsOnItsOwn()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1_000), await Bank.OpenAsync());
        for (var round = 0; round < 10; round++)
        {
            var done = Deposit(a, 1, Rpc.NewId());
            await RunAsync(false, done);
            var shared = Rpc.NewId();

            var results = await RunAsync(false, done, Withdraw(a, 5, shared), Deposit(b, 7, shared));

            Assert.True(results[1].ResultCase == BatchResult.ResultOneofCase.Withdraw, $"round {round}: {results[1]}");
            Assert.Equal("REQUEST_ID_REUSED", results[2].Error?.GetDetail<ErrorInfo>().Reason);
        }
        Assert.Equal((1_000L + 10 * (1 - 5), 0L), (await BalanceAsync(a), await BalanceAsync(b)));
    }

    /// <summary>
    /// Commands done one by one (alone, or in an independent batch) were each written at a position of their own: sent
    /// again as an atomic batch, every one of them is done, so each gets its first reply back, that position included (a
    /// reader waiting on it waits for nothing later), not the newest of them all.
    /// </summary>
    [Fact]
    public async Task CommandsDoneOneByOne_SentAgainAsAnAtomicBatch_GetTheirFirstRepliesBack_TheirPositionsIncluded()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1_000), await Bank.OpenAsync(deposit: 1_000));
        var (deposit, withdraw) = (Deposit(a, 100, Rpc.NewId()), Withdraw(b, 50, Rpc.NewId()));
        var deposited = await Bank.Accounts.DepositMoneyAsync(deposit.Deposit);
        var withdrawn = await Bank.Accounts.WithdrawMoneyAsync(withdraw.Withdraw);
        var (independentDeposit, independentWithdraw) = (Deposit(b, 7, Rpc.NewId()), Withdraw(a, 3, Rpc.NewId()));
        var independent = await RunAsync(false, independentDeposit, independentWithdraw);
        var head = await HeadAsync();

        var again = await RunAsync(true, deposit, withdraw);
        var independentAgain = await RunAsync(true, independentDeposit, independentWithdraw);

        Assert.Equal((deposited, withdrawn), (again[0].Deposit, again[1].Withdraw));
        Assert.NotEqual(deposited.Position, withdrawn.Position);
        Assert.Equal(independent, independentAgain);
        Assert.Equal(head, await HeadAsync());
    }

    [Fact]
    public async Task AnAtomicBatch_WithACommandAlreadyDone_AndNewOnes_IsRefused_SayingWhichWasDone()
    {
        var a = await Bank.OpenAsync(deposit: 1_000);
        var (done, alsoDone) = (Deposit(a, 100, Rpc.NewId()), Deposit(a, 200, Rpc.NewId()));
        await RunAsync(false, done, alsoDone);
        var head = await HeadAsync();

        var refusal = await Assert.ThrowsAsync<RpcException>(() => RunAsync(true, Deposit(a, 5, Rpc.NewId()), done));

        Assert.Equal((StatusCode.FailedPrecondition, "REQUEST_ID_REUSED", "1"),
            (refusal.StatusCode, refusal.GetRpcStatus()!.GetDetail<ErrorInfo>().Reason, refusal.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["index"]));
        Assert.Contains("was already done by an earlier call", refusal.Status.Detail);
        Assert.Equal(head, await HeadAsync());

        // A request id used for another request is named as such, before one that was merely done.
        var reused = await Assert.ThrowsAsync<RpcException>(() => RunAsync(true, done, Deposit(a, 7, alsoDone.Deposit.RequestId)));
        Assert.Equal("1", reused.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["index"]);
        Assert.Contains("used for a different request", reused.Status.Detail);
    }

    [Fact]
    public async Task AnAtomicBatchsMalformedField_CarriesItsDomainRulesReason_AsTheSingleRpcAndAnIndependentBatchDo()
    {
        var a = await Bank.OpenAsync(deposit: 1_000);

        await InvalidFor("INVALID_AMOUNT", "commands[1].deposit.amount_minor", () => RunAsync(true, Deposit(a, 1), Deposit(a, 0)));
        var euro = Withdraw(a, 1);
        euro.Withdraw.CurrencyCode = "eur";
        await InvalidFor("UNKNOWN_CURRENCY", "commands[0].withdraw.currency_code", () => RunAsync(true, euro));
    }

    [Fact]
    public async Task ATransfersFieldBreakingADomainRule_IsAnsweredWithTheRulesReason_AloneAndInEitherBatch()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1_000), await Bank.OpenAsync());
        var toItself = Transfer(a, a, 1);
        var ordersPayment = Transfer(a, b, 1);
        ordersPayment.Transfer.PaymentId = "order-x";

        foreach (var (command, field, reason) in new[] { (toItself, "to_account_id", "SAME_ACCOUNT"), (ordersPayment, "payment_id", "PAYMENT_ID_RESERVED") })
        {
            await InvalidFor(reason, field, () => Bank.Payments.TransferMoneyAsync(command.Transfer).ResponseAsync);
            // Atomic: its ErrorInfo names the command's index, as a refusal of the batch does.
            var atomic = await Assert.ThrowsAsync<RpcException>(() => RunAsync(true, Deposit(a, 1), command));
            await InvalidFor(reason, $"commands[1].transfer.{field}", () => Task.FromException(atomic));
            Assert.Equal("1", atomic.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["index"]);
            var error = (await RunAsync(false, Deposit(a, 1), command))[1].Error;
            var violation = Assert.Single(error.GetDetail<BadRequest>().FieldViolations);
            Assert.Equal((Code.InvalidArgument, $"commands[1].transfer.{field}", reason, reason),
                ((Code)error.Code, violation.Field, violation.Reason, error.GetDetail<ErrorInfo>()?.Reason));
        }
        // Only the independent batches' deposits were written.
        Assert.Equal((1_002L, 0L), (await BalanceAsync(a), await BalanceAsync(b)));
    }

    [Fact]
    public async Task TheLimitsOfABatch_AreInvalidArgumentsNamingTheField()
    {
        var a = await Bank.OpenAsync(deposit: 1_000);
        var head = await HeadAsync();

        await Invalid(() => RunAsync(false), "commands");
        await Invalid(() => RunAsync(false, [.. Enumerable.Range(0, 8_193).Select(_ => Deposit(a, 1))]), "commands");
        await Invalid(() => RunAsync(false, Deposit(a, 1), new BatchCommand()), "commands[1].command");
        var versioned = Deposit(a, 1);
        versioned.Deposit.ExpectedVersion = 2;
        await Invalid(() => RunAsync(false, versioned), "commands[0].deposit.expected_version");
        await Invalid(() => RunAsync(true, Deposit(a, 1), Deposit(a, 0), Transfer(a, a, 1)),
            "commands[1].deposit.amount_minor", "commands[2].transfer.to_account_id");
        await Invalid(() => RunAsync(true, Deposit(a, 1, "same"), Withdraw(a, 1, "same")), "commands[1].withdraw.request_id");
        Assert.Equal(head, await HeadAsync());

        // The most commands, each with a request id and a reference as a payroll file has them: ~1.5 MB, past the 1 MiB
        // every other RPC takes, within the batch's 8 MiB.
        BatchCommand Payslip(int i)
        {
            var command = Deposit(a, 1, Guid.NewGuid().ToString());
            command.Deposit.Reference = $"payroll 2026-12, employee {i:D5}: net salary after tax and social security contributions, paid";
            return command;
        }
        var payroll = new ExecuteBatchRequest { Commands = { Enumerable.Range(0, 8_192).Select(Payslip) } };
        Assert.InRange(payroll.CalculateSize(), 1_400_000, BatchGrpcService.MaxRequestBytes);
        var results = (await Batches.ExecuteBatchAsync(payroll)).Results;
        Assert.All(results, r => Assert.Equal(BatchResult.ResultOneofCase.Deposit, r.ResultCase));
        Assert.Equal(1_000L + 8_192, await BalanceAsync(a));

        // Past 8 MiB (8,192 references of 500 three-byte characters, each valid alone): refused whole, nothing written.
        var before = await HeadAsync();
        var oversized = new ExecuteBatchRequest { Commands = { Enumerable.Range(0, 8_192).Select(Payslip) } };
        foreach (var command in oversized.Commands) command.Deposit.Reference = new string('€', 500);
        Assert.True(oversized.CalculateSize() > BatchGrpcService.MaxRequestBytes);
        var refused = await Assert.ThrowsAsync<RpcException>(() => Batches.ExecuteBatchAsync(oversized).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(before, await HeadAsync());
    }
}
