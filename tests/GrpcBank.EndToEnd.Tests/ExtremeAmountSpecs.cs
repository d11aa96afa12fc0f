using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using static GrpcBank.EndToEnd.Tests.Rpc;
using Money = GrpcBank.Domain.Money;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Money at the extremes of int64 through real gRPC clients, on each store: an amount out of range is the client's
/// mistake (INVALID_ARGUMENT naming the field) and a credit past the 10^15 balance limit a business rule
/// (FAILED_PRECONDITION, BALANCE_LIMIT_EXCEEDED); either writes nothing, and the read side follows whatever was written.
/// </summary>
public abstract class ExtremeAmountSpecs : BankSpecs
{
    private static readonly long[] NeverAnAmount = [long.MinValue, -1, 0, Money.MaxAmountMinor + 1, long.MaxValue];

    private BatchService.BatchServiceClient Batches => new(Host.Channel);

    private Task<long> HeadAsync() => Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

    private static BatchCommand Deposit(string account, long amount) =>
        new() { Deposit = new DepositMoneyRequest { AccountId = account, AmountMinor = amount, CurrencyCode = "EUR" } };

    private Task<TransferMoneyResponse> TransferAsync(string from, string to, long amount) =>
        Bank.Payments.TransferMoneyAsync(new TransferMoneyRequest { FromAccountId = from, ToAccountId = to, AmountMinor = amount, CurrencyCode = "EUR" }).ResponseAsync;

    [Fact]
    public async Task AnAmountOutOfRange_InEveryMoneyField_IsInvalidArgumentNamingIt_AndNothingIsWritten()
    {
        var (a, b) = (await Bank.OpenAsync(deposit: Money.MaxAmountMinor), await Bank.OpenAsync());
        var hold = await Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest
        {
            AccountId = a, AmountMinor = 1, CurrencyCode = "EUR", Ttl = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        });
        var head = await HeadAsync();

        foreach (var amount in NeverAnAmount)
        {
            await InvalidFor("INVALID_AMOUNT", "amount_minor", () =>
                Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = a, AmountMinor = amount, CurrencyCode = "EUR" }).ResponseAsync);
            await InvalidFor("INVALID_AMOUNT", "amount_minor", () =>
                Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = a, AmountMinor = amount, CurrencyCode = "EUR" }).ResponseAsync);
            await InvalidFor("INVALID_AMOUNT", "amount_minor", () => Bank.Accounts.PlaceHoldAsync(new PlaceHoldRequest
            {
                AccountId = a, AmountMinor = amount, CurrencyCode = "EUR", Ttl = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            }).ResponseAsync);
            await InvalidFor("INVALID_AMOUNT", "amount_minor", () => TransferAsync(a, b, amount));
            await InvalidFor("INVALID_AMOUNT", "amount_minor", () => Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
            {
                CustomerAccountId = a, MerchantAccountId = b, AmountMinor = amount, CurrencyCode = "EUR", Description = "lamp",
            }).ResponseAsync);
            await Invalid(() => Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands = { Deposit(a, 1), Deposit(a, amount) } }).ResponseAsync,
                "commands[1].deposit.amount_minor");
            var independent = (await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands = { Deposit(a, amount) } })).Results;
            Assert.Equal((amount, Code.InvalidArgument, "commands[0].deposit.amount_minor"),
                (amount, (Code)independent[0].Error.Code, Assert.Single(independent[0].Error.GetDetail<BadRequest>().FieldViolations).Field));
            // 0 captures all of a hold and is no overdraft: both are in range there.
            if (amount != 0)
            {
                await InvalidFor("INVALID_AMOUNT", "amount_minor", () =>
                    Bank.Accounts.CaptureHoldAsync(new CaptureHoldRequest { AccountId = a, HoldId = hold.HoldId, AmountMinor = amount }).ResponseAsync);
                await InvalidFor("INVALID_OVERDRAFT_LIMIT", "limit_minor", () =>
                    Bank.Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = a, LimitMinor = amount }).ResponseAsync);
            }
        }

        Assert.Equal(head, await HeadAsync());
        var account = await Bank.AccountAsync(a, head);
        Assert.Equal((Money.MaxAmountMinor, 1L, 0L), (account.BalanceMinor, account.HeldMinor, account.OverdraftLimitMinor));
    }

    [Fact]
    public async Task AnAccountFilledToTheBalanceLimit_RefusesEveryCreditPastIt_WritesNothing_AndTheReadSideFollowsEveryWrite()
    {
        var (full, payer) = (await Bank.OpenAsync(), await Bank.OpenAsync(deposit: Money.MaxAmountMinor));
        // Paid from it before it filled up: the refund would credit it past the limit.
        await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = full, AmountMinor = 1, CurrencyCode = "EUR" });
        var refundable = await TransferAsync(full, payer, 1);
        var order = await Bank.Orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = payer, MerchantAccountId = full, AmountMinor = 1, CurrencyCode = "EUR", Description = "lamp",
        });
        Assert.True(order.Authorized);

        // 100 maximal deposits in one atomic batch fill it to 10^15 exactly.
        var filled = await Batches.ExecuteBatchAsync(new ExecuteBatchRequest
        {
            Atomic = true, Commands = { Enumerable.Range(0, (int)(Money.MaxBalanceMinor / Money.MaxAmountMinor)).Select(_ => Deposit(full, Money.MaxAmountMinor)) },
        });
        Assert.Equal(Money.MaxBalanceMinor, filled.Results[^1].Deposit.BalanceMinor);
        var head = await HeadAsync();

        await Rejected("BALANCE_LIMIT_EXCEEDED", () =>
            Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = full, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync);
        await Rejected("BALANCE_LIMIT_EXCEEDED", () => TransferAsync(payer, full, 1));
        var refund = await Rejected("BALANCE_LIMIT_EXCEEDED", () => Bank.Payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = refundable.PaymentId, Reason = "returned" }).ResponseAsync);
        var fulfil = await Rejected("BALANCE_LIMIT_EXCEEDED", () => Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId }).ResponseAsync);
        Assert.Equal((full, full), (refund.Metadata["account_id"], fulfil.Metadata["account_id"]));
        // An atomic batch whose last credit crosses the limit writes none of it, the payer's deposit before it neither.
        var atomic = await Fails(StatusCode.FailedPrecondition, () => Batches.ExecuteBatchAsync(new ExecuteBatchRequest
        {
            Atomic = true, Commands = { Deposit(payer, 1), Deposit(full, 1) },
        }).ResponseAsync);
        Assert.Equal(("BALANCE_LIMIT_EXCEEDED", "1"), (atomic.GetRpcStatus()!.GetDetail<ErrorInfo>().Reason, atomic.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["index"]));
        Assert.Equal(head, await HeadAsync());

        // Independent: the crossing credit fails alone, the payer's deposit beside it is written.
        var independent = (await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands = { Deposit(full, 1), Deposit(payer, 1) } })).Results;
        Assert.Equal("BALANCE_LIMIT_EXCEEDED", independent[0].Error.GetDetail<ErrorInfo>().Reason);

        // Money may still leave, and come back up to the limit exactly (the order's payment credits the last unit).
        await Bank.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = full, AmountMinor = 1, CurrencyCode = "EUR" });
        var position = (await Bank.Orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId })).Position;

        // The read side applied every write (a relay stuck on one would leave these reads waiting) and sums them exactly.
        var fullView = await Bank.AccountAsync(full, position);
        var payerView = await Bank.AccountAsync(payer, position);
        Assert.Equal((Money.MaxBalanceMinor, Money.MaxBalanceMinor), (fullView.BalanceMinor, fullView.AvailableMinor));
        Assert.Equal((Money.MaxAmountMinor + 1, 0L), (payerView.BalanceMinor, payerView.HeldMinor));
        var summary = (await Bank.Query.SummarizeTransactionsAsync(new SummarizeTransactionsRequest { AccountId = full, MinPosition = position })).Totals;
        // Credits: 1, the 100 maximal deposits, the order's 1; debits: the transfer's 1, the withdrawal's 1.
        Assert.Equal((Money.MaxBalanceMinor + 2, 102L, 2L, 2L), (summary.CreditMinor, summary.CreditCount, summary.DebitMinor, summary.DebitCount));
        var richest = await Bank.Query.SearchAccountsAsync(new SearchAccountsRequest { OrderBy = "balance_minor desc", PageSize = 1, MinPosition = position });
        Assert.Equal(full, Assert.Single(richest.Accounts).AccountId);
    }

    [Fact]
    public async Task ABatchOf8192MaximalDeposits_ToOneAccount_StopsAtTheBalanceLimit_AtomicWritingNothing_IndependentEachPastItFailingAlone()
    {
        var account = await Bank.OpenAsync();
        var maximal = Enumerable.Range(0, 8_192).Select(_ => Deposit(account, Money.MaxAmountMinor)).ToList();
        var fits = (int)(Money.MaxBalanceMinor / Money.MaxAmountMinor); // the first 100
        var head = await HeadAsync();

        var atomic = await Fails(StatusCode.FailedPrecondition, () => Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Atomic = true, Commands = { maximal } }).ResponseAsync);
        var info = atomic.GetRpcStatus()!.GetDetail<ErrorInfo>();
        Assert.Equal(("BALANCE_LIMIT_EXCEEDED", $"{fits}"), (info.Reason, info.Metadata["index"]));
        Assert.Equal(head, await HeadAsync());

        var results = (await Batches.ExecuteBatchAsync(new ExecuteBatchRequest { Commands = { maximal } })).Results;
        Assert.All(results.Take(fits), r => Assert.Equal(BatchResult.ResultOneofCase.Deposit, r.ResultCase));
        Assert.Equal(Money.MaxBalanceMinor, results[fits - 1].Deposit.BalanceMinor);
        Assert.All(results.Skip(fits), r => Assert.Equal((Code.FailedPrecondition, "BALANCE_LIMIT_EXCEEDED"), ((Code)r.Error.Code, r.Error.GetDetail<ErrorInfo>().Reason)));
        Assert.Equal(Money.MaxBalanceMinor, (await Bank.AccountAsync(account, results[fits - 1].Deposit.Position)).BalanceMinor);
    }
}

public sealed class EmbeddedExtremeAmountSpecs : ExtremeAmountSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync();
}

public sealed class PostgresExtremeAmountSpecs(PostgresServer postgres) : ExtremeAmountSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync());
}

/// <summary>The same over the JSON API: an amount at or past int64's bounds, as a number or a string, names its field and writes nothing.</summary>
public sealed class ExtremeJsonAmountSpecs
{
    [Fact]
    public async Task AnAmountAtOrPastInt64sBounds_AsANumberOrAString_IsInvalidArgumentNamingIt_AndNothingIsWritten()
    {
        var url = $"http://127.0.0.1:{FreePorts.Next()}";
        await using var host = await BankHost.StartEmbeddedAsync(("JsonApi:Url", url));
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var id = await new Bank(host).OpenAsync(deposit: 5);
        var head = await host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

        // int64's own bounds are read, and refused by the amount's rule (named as the proto names it, with its reason); a value
        // past them is one the field cannot take (named as sent, as any JSON the transcoder cannot read).
        var cases = new[] { (long.MaxValue.ToString(), true), (long.MinValue.ToString(), true), ("9223372036854775808", false),
            ("-9223372036854775809", false), ("18446744073709551616", false) };
        foreach (var (amount, isInt64) in cases)
        foreach (var written in new[] { amount, $"\"{amount}\"" })
        foreach (var command in new[] { ":deposit", ":withdraw" })
        {
            using var response = await http.PostAsync($"/v1/accounts/{id}{command}",
                new StringContent($$"""{"amountMinor":{{written}},"currencyCode":"EUR"}""", System.Text.Encoding.UTF8, "application/json"));
            var error = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            var violation = error["details"]!.AsArray().Single(d => d!["@type"]!.GetValue<string>() == "type.googleapis.com/google.rpc.BadRequest")!["fieldViolations"]![0]!;
            Assert.Equal((command, written, 400, 3, isInt64 ? "amount_minor" : "amountMinor", isInt64 ? "INVALID_AMOUNT" : ""),
                (command, written, (int)response.StatusCode, error["code"]!.GetValue<int>(), violation["field"]!.GetValue<string>(), violation["reason"]?.GetValue<string>() ?? ""));
        }

        Assert.Equal(head, await host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None));
    }
}
