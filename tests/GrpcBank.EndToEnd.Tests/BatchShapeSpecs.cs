using System.Diagnostics;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using Account = GrpcBank.Domain.Accounts.Account;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// ExecuteBatch in the shapes a payroll or card-settlement file takes: every command on one account, every command
/// refused, request ids repeated or spent before, a few hot accounts among many cold ones, a batch retried whole after
/// its deadline cut it off. Each is checked against a model (answers, balances, versions, the stored events, the read
/// side) and timed in the output (not asserted: the machine is shared).
/// </summary>
public abstract class BatchShapeSpecs : BankSpecs
{
    /// <summary>
    /// Commands per batch. At the limit, 8,192 (<c>GRPCBANK_BATCH_SHAPE_SIZE=8192</c>), each shape took 0.2–5 s on a
    /// two-core machine and the whole class minutes per store; the specs run 1,024, and the time of each shape grew
    /// about linearly between the two (the output shows it).
    /// </summary>
    private static readonly int Size = int.TryParse(Environment.GetEnvironmentVariable("GRPCBANK_BATCH_SHAPE_SIZE"), out var n) ? n : 1_024;

    private static readonly ActivitySource TestSource = new("GrpcBank.Tests.BatchShapes");

    private readonly RecordedSpans spans = new(TestSource.Name);

    public override async ValueTask DisposeAsync()
    {
        spans.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>
    /// The batch's results, and how many single appends ran under it: a command of an independent batch left to run as
    /// its single RPC appends on its own (one "event store append" span or more); one written in the batch's group, or
    /// answered from the request log, does not. An atomic batch is one such append (a retried one's fails on its logged ids).
    /// </summary>
    private async Task<(IReadOnlyList<BatchResult> Results, int SingleAppends)> RunTracedAsync(string shape, bool atomic, IReadOnlyList<BatchCommand> commands)
    {
        using var root = TestSource.StartActivity("test: batch")!;
        var results = await RunAsync(shape, atomic, commands);
        var trace = root.TraceId;
        return (results, spans.Stopped.Count(a => a.TraceId == trace && a.OperationName == "event store append"));
    }


    private BatchService.BatchServiceClient Batches => new(Host.Channel);

    private static BatchCommand Deposit(string account, long amount, string? requestId = null, string currency = "EUR") =>
        new() { Deposit = new DepositMoneyRequest { AccountId = account, AmountMinor = amount, CurrencyCode = currency, RequestId = requestId ?? NewId() } };

    private static BatchCommand Withdraw(string account, long amount, string? requestId = null) =>
        new() { Withdraw = new WithdrawMoneyRequest { AccountId = account, AmountMinor = amount, CurrencyCode = "EUR", RequestId = requestId ?? NewId() } };

    private static BatchCommand Transfer(string from, string to, long amount, string? requestId = null) =>
        new() { Transfer = new TransferMoneyRequest { FromAccountId = from, ToAccountId = to, AmountMinor = amount, CurrencyCode = "EUR", RequestId = requestId ?? NewId() } };

    private async Task<IReadOnlyList<BatchResult>> RunAsync(string shape, bool atomic, IReadOnlyList<BatchCommand> commands, DateTime? deadline = null)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            return (await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = atomic, Commands = { commands } }, deadline: deadline)).Results;
        }
        finally
        {
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{shape}, {(atomic ? "atomic" : "independent")}, {commands.Count} commands: {watch.ElapsedMilliseconds} ms");
        }
    }

    private Task<long> HeadAsync() => Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

    /// <summary>The account's stored version (its last event's), and what the read side shows once it has caught up with the head.</summary>
    private async Task<(long Balance, long Version)> AccountAsync(string account)
    {
        var stored = await Host.Get<IEventStore>().ReadStreamBackwardAsync(Account.StreamId(account), long.MaxValue, 1, CancellationToken.None);
        // A read waits for the read side until just before its deadline: the big batches of a class beside this one may hold it up past the 5 s of a read without one.
        var view = (await Bank.Query.GetAccountAsync(new GetAccountRequest { AccountId = account, MinPosition = await HeadAsync() },
            deadline: DateTime.UtcNow.AddMinutes(1))).Account;
        Assert.Equal(stored.Count == 0 ? 0 : stored[0].StreamVersion, view.Version);
        return (view.BalanceMinor, view.Version);
    }

    /// <summary>
    /// Each deposit's reply names the append that wrote it: the account's event at its version is at its position (an
    /// atomic batch's, one append, at the position of its last event).
    /// </summary>
    private async Task RepliesNameTheirEventsAsync(string account, IReadOnlyList<BatchResult> results, bool atomic)
    {
        var events = await Host.Get<IEventStore>().ReadStreamAsync(Account.StreamId(account), 0, int.MaxValue, CancellationToken.None);
        var positionAt = events.ToDictionary(e => e.StreamVersion, e => e.Position);
        var last = results.Max(r => r.Deposit.Version);
        Assert.All(results, r => Assert.Equal(positionAt[atomic ? last : r.Deposit.Version], r.Deposit.Position));
    }

    private static long PositionOf(BatchResult r) => r.ResultCase switch
    {
        BatchResult.ResultOneofCase.Deposit => r.Deposit.Position,
        BatchResult.ResultOneofCase.Withdraw => r.Withdraw.Position,
        BatchResult.ResultOneofCase.Transfer => r.Transfer.Position,
        _ => throw new Xunit.Sdk.XunitException($"refused: {r.Error}"),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DepositsAllToOneAccount_AreEachAnsweredAsTheSingleRpc_AndTheAccountIsTheirSum(bool atomic)
    {
        var a = await Bank.OpenAsync();
        var commands = Enumerable.Range(0, Size).Select(i => Deposit(a, 1 + i % 7)).ToList();

        var results = await RunAsync("deposits to one account", atomic, commands);

        var balance = 0L;
        for (var i = 0; i < Size; i++)
        {
            balance += 1 + i % 7;
            Assert.Equal((balance, 2L + i), (results[i].Deposit.BalanceMinor, results[i].Deposit.Version));
        }
        Assert.Equal((balance, 1L + Size), await AccountAsync(a));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WithdrawalsFromOneAccount_RunItDownToRefusals_IndependentAnswersEach_AtomicNamesTheFirst(bool atomic)
    {
        var covered = Size / 2;
        var a = await Bank.OpenAsync(deposit: covered);
        var head = await HeadAsync();
        var commands = Enumerable.Range(0, Size).Select(_ => Withdraw(a, 1)).ToList();

        if (atomic)
        {
            var info = await Rejected("INSUFFICIENT_FUNDS", () => RunAsync("withdrawals past the balance", atomic, commands));
            Assert.Equal(covered.ToString(), info.Metadata["index"]);
            Assert.Equal(head, await HeadAsync());
            Assert.Equal(((long)covered, 2L), await AccountAsync(a));
            return;
        }
        var results = await RunAsync("withdrawals past the balance", atomic, commands);

        for (var i = 0; i < covered; i++)
            Assert.Equal((covered - 1L - i, 3L + i), (results[i].Withdraw.BalanceMinor, results[i].Withdraw.Version));
        Assert.All(results.Skip(covered), r => Assert.Equal((Code.FailedPrecondition, "INSUFFICIENT_FUNDS"), ((Code)r.Error.Code, r.Error.GetDetail<ErrorInfo>().Reason)));
        Assert.Equal((0L, 2L + covered), await AccountAsync(a));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TransfersBackAndForthBetweenTwoAccounts_EachRestOnTheOneBefore(bool atomic)
    {
        var (a, b) = (await Bank.OpenAsync(deposit: 1), await Bank.OpenAsync());
        // Each transfer moves the one unit the one before moved: none is covered without it.
        var commands = Enumerable.Range(0, Size).Select(i => i % 2 == 0 ? Transfer(a, b, 1) : Transfer(b, a, 1)).ToList();

        var results = await RunAsync("transfers back and forth", atomic, commands);

        Assert.All(results, r => Assert.Equal(BatchResult.ResultOneofCase.Transfer, r.ResultCase));
        Assert.Equal(Size, results.Select(r => r.Transfer.PaymentId).Distinct().Count());
        Assert.Equal(((long)(Size % 2 == 0 ? 1 : 0), 2L + Size), await AccountAsync(a));
        Assert.Equal(((long)(Size % 2), 1L + Size), await AccountAsync(b));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EveryCommandRefused_WritesNothing_IndependentAnswersEach_AtomicNamesTheFirst(bool atomic)
    {
        var a = await Bank.OpenAsync(deposit: 100);
        var head = await HeadAsync();
        // Unknown accounts (each its own, as a settlement file for a closed merchant list) and a currency the account does not hold.
        var commands = Enumerable.Range(0, Size).Select(i => i % 2 == 0 ? Deposit($"nobody-{i}", 1) : Deposit(a, 1, currency: "USD")).ToList();

        if (atomic)
        {
            var e = await Fails(StatusCode.NotFound, () => RunAsync("every command refused", atomic, commands));
            Assert.StartsWith("commands[0]: ", e.Status.Detail);
        }
        else
        {
            var results = await RunAsync("every command refused", atomic, commands);
            for (var i = 0; i < Size; i++)
                Assert.Equal(i % 2 == 0 ? Code.NotFound : Code.FailedPrecondition, (Code)results[i].Error.Code);
            Assert.All(results.Where((_, i) => i % 2 == 1), r => Assert.Equal("CURRENCY_MISMATCH", r.Error.GetDetail<ErrorInfo>().Reason));
        }
        Assert.Equal(head, await HeadAsync());
        Assert.Equal((100L, 2L), await AccountAsync(a));
    }

    [Fact]
    public async Task ARequestIdRepeatedThroughoutABatch_IsItsFirstUses_TheSameRequestGetsItsReply_AnotherIsRefused()
    {
        var a = await Bank.OpenAsync();
        var shared = NewId();
        // Every command carries the one id: the same deposit again and again, and now and then a different one.
        var commands = Enumerable.Range(0, Size).Select(i => i % 8 == 7 ? Deposit(a, 2, shared) : Deposit(a, 1, shared)).ToList();

        var (results, singleAppends) = await RunTracedAsync("one request id throughout", false, commands);

        // Its first use is written in the group; every later one answered from the log, none run on its own one after another.
        Assert.Equal(0, singleAppends);
        Assert.All(results.Where((_, i) => i % 8 != 7), r => Assert.Equal(results[0].Deposit, r.Deposit));
        Assert.All(results.Where((_, i) => i % 8 == 7), r => Assert.Equal("REQUEST_ID_REUSED", r.Error.GetDetail<ErrorInfo>().Reason));
        Assert.Equal((1L, 2L), await AccountAsync(a));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ABatchWhoseRequestIdsWerePartlyUsedBySingleCommands_AnswersThoseWithTheirFirstReplies(bool atomic)
    {
        var a = await Bank.OpenAsync();
        var commands = Enumerable.Range(0, Size).Select(_ => Deposit(a, 1)).ToList();
        // Every fourth command was sent alone before, the first among them.
        var alone = new Dictionary<int, DepositMoneyResponse>();
        for (var i = 0; i < Size; i += 4) alone[i] = await Bank.Accounts.DepositMoneyAsync(commands[i].Deposit);
        var head = await HeadAsync();

        if (atomic)
        {
            var info = await Rejected("REQUEST_ID_REUSED", () => RunAsync("request ids partly used", atomic, commands));
            Assert.Equal("0", info.Metadata["index"]);
            Assert.Equal(head, await HeadAsync());
            return;
        }
        var (results, singleAppends) = await RunTracedAsync("request ids partly used", atomic, commands);

        // The logged ones answered from the log, the new ones written in a group: none ran on its own.
        Assert.Equal(0, singleAppends);
        foreach (var (i, reply) in alone) Assert.Equal(reply, results[i].Deposit);
        var versions = results.Select(r => r.Deposit.Version).ToList();
        Assert.Equal(Enumerable.Range(2, Size).Select(v => (long)v), versions.Order());
        Assert.All(results, r => Assert.Equal(r.Deposit.Version - 1, r.Deposit.BalanceMinor));
        Assert.Equal(((long)Size, 1L + Size), await AccountAsync(a));
        await RepliesNameTheirEventsAsync(a, results, atomic);
        var again = await RunTracedAsync("request ids partly used, again", atomic, commands);
        Assert.Equal((results, 0), (again.Results, again.SingleAppends));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ASingleDepositOnTheAccountABatchWrites_IsWrittenBesideIt_NotStarved(bool atomic)
    {
        var a = await Bank.OpenAsync();
        var commands = Enumerable.Range(0, Size).Select(_ => Deposit(a, 1)).ToList();

        var batch = RunAsync("batch beside single deposits", atomic, commands);
        var singles = new List<(long Ms, DepositMoneyResponse Reply)>();
        while (!batch.IsCompleted || singles.Count == 0)
        {
            var watch = Stopwatch.StartNew();
            var reply = await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = a, AmountMinor = 1_000, CurrencyCode = "EUR" });
            singles.Add((watch.ElapsedMilliseconds, reply));
        }
        var results = await batch;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{singles.Count} single deposits beside it, the slowest {singles.Max(s => s.Ms)} ms, the median {singles.Select(s => s.Ms).Order().ElementAt(singles.Count / 2)} ms");

        // Every command written once, in some order: each reply's balance is what the deposits at or below its version add up to.
        Assert.Equal((Size + 1_000L * singles.Count, 1L + Size + singles.Count), await AccountAsync(a));
        var versions = results.Select(r => r.Deposit.Version).Concat(singles.Select(s => s.Reply.Version)).ToList();
        Assert.Equal(Enumerable.Range(2, versions.Count).Select(v => (long)v), versions.Order());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AMixOverAFewHotAccountsAndManyColdOnes_EqualsTheModel(bool atomic)
    {
        var hot = new List<string>();
        for (var i = 0; i < 3; i++) hot.Add(await Bank.OpenAsync(deposit: 1_000_000));
        var cold = await Task.WhenAll(Enumerable.Range(0, Size / 8).Select(_ => Bank.OpenAsync(deposit: 1_000)));
        var balances = hot.Concat(cold).ToDictionary(x => x, _ => 0L);
        var versions = hot.Concat(cold).ToDictionary(x => x, _ => 2L);
        foreach (var x in balances.Keys) balances[x] = hot.Contains(x) ? 1_000_000 : 1_000;
        var random = new Random(7);
        var commands = new List<BatchCommand>();
        for (var i = 0; i < Size; i++)
        {
            var h = hot[random.Next(hot.Count)];
            var c = cold[random.Next(cold.Length)];
            var amount = 1 + random.Next(5);
            var command = random.Next(4) switch
            {
                0 => Deposit(random.Next(2) == 0 ? h : c, amount),
                1 => Withdraw(random.Next(2) == 0 ? h : c, amount),
                2 => Transfer(h, c, amount),
                _ => Transfer(c, h, amount),
            };
            commands.Add(command);
            switch (command.CommandCase)
            {
                case BatchCommand.CommandOneofCase.Deposit: balances[command.Deposit.AccountId] += amount; versions[command.Deposit.AccountId]++; break;
                case BatchCommand.CommandOneofCase.Withdraw: balances[command.Withdraw.AccountId] -= amount; versions[command.Withdraw.AccountId]++; break;
                default:
                    balances[command.Transfer.FromAccountId] -= amount; versions[command.Transfer.FromAccountId]++;
                    balances[command.Transfer.ToAccountId] += amount; versions[command.Transfer.ToAccountId]++;
                    break;
            }
        }
        Assert.All(balances.Values, v => Assert.True(v >= 0));

        var results = await RunAsync("hot and cold accounts", atomic, commands);

        // Each command its own append (PostgreSQL orders a group's appends over distinct streams by stream, not by command).
        Assert.Equal(atomic ? 1 : Size, results.Select(PositionOf).Distinct().Count());
        foreach (var x in balances.Keys) Assert.Equal((balances[x], versions[x]), await AccountAsync(x));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ABatchCutOffByItsDeadline_RetriedWhole_IsWrittenOnce_AndAnsweredAsItWasFirst(bool atomic)
    {
        var a = await Bank.OpenAsync();
        var commands = Enumerable.Range(0, Size).Select(_ => Deposit(a, 1)).ToList();

        // Cut off ever later until one call is answered: each cut may leave part of the batch written (a group, some of
        // the commands run on their own), or none of it.
        var cuts = 0;
        for (var deadline = 5; ; deadline *= 2)
        {
            try
            {
                await RunAsync($"deadline {deadline} ms", atomic, commands, DateTime.UtcNow.AddMilliseconds(deadline));
                break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded)
            {
                cuts++;
            }
        }
        Assert.True(cuts > 0, "no call was cut off");
        var retried = await RunAsync("retried whole", atomic, commands);
        var again = await RunTracedAsync("retried whole again", atomic, commands);

        Assert.Equal((retried, atomic ? 1 : 0), (again.Results, again.SingleAppends));
        await RepliesNameTheirEventsAsync(a, retried, atomic);
        Assert.All(retried, r => Assert.Equal(r.Deposit.Version - 1, r.Deposit.BalanceMinor));
        Assert.Equal(Enumerable.Range(2, Size).Select(v => (long)v), retried.Select(r => r.Deposit.Version).Order());
        Assert.Equal(((long)Size, 1L + Size), await AccountAsync(a));
    }
}

public sealed class EmbeddedBatchShapeSpecs : BatchShapeSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}

public sealed class PostgresBatchShapeSpecs(PostgresServer postgres) : BatchShapeSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}
