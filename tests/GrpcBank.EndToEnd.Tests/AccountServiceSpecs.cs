using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;
using static GrpcBank.EndToEnd.Tests.Rpc;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Every AccountService RPC and every rejection, through a real gRPC client. Runs on each store.</summary>
public abstract class AccountServiceSpecs : BankSpecs
{
    private AccountService.AccountServiceClient Accounts => Host.Accounts;

    private Task<IReadOnlyList<RecordedEvent>> StreamAsync(string accountId) =>
        Host.Get<IEventStore>().ReadStreamAsync($"account-{accountId}", 1, 10_000, CancellationToken.None);

    [Fact]
    public async Task OpeningWithoutAnId_AssignsOne_AndTheAccountIsQueryableAtTheReturnedPosition()
    {
        var opened = await Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Grace Hopper", CurrencyCode = "USD" });

        Assert.False(string.IsNullOrEmpty(opened.AccountId));
        Assert.Equal(1, opened.Version);
        var got = await Host.Query.GetAccountAsync(new GetAccountRequest { AccountId = opened.AccountId, MinPosition = opened.Position });
        Assert.Equal("Grace Hopper", got.Account.OwnerName);
        Assert.Equal("USD", got.Account.CurrencyCode);
        Assert.Equal(AccountStatus.Active, got.Account.Status);
        Assert.True(got.Position >= opened.Position);
    }

    [Fact]
    public async Task DepositsAndWithdrawals_MoveTheBalance_AndTheReadSideFollowsWithMinPosition()
    {
        var id = await Bank.OpenAsync();

        var deposited = await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 10_000, CurrencyCode = "EUR", Reference = "salary" });
        var withdrawn = await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 2_550, CurrencyCode = "EUR", Reference = "rent" });

        Assert.Equal((2, 10_000), (deposited.Version, deposited.BalanceMinor));
        Assert.Equal((3, 7_450), (withdrawn.Version, withdrawn.BalanceMinor));
        Assert.True(withdrawn.Position > deposited.Position);
        var got = await Host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = withdrawn.Position });
        Assert.Equal(7_450, got.Account.BalanceMinor);
        Assert.Equal(3, got.Account.Version);
    }

    [Fact]
    public async Task FreezeUnfreezeAndClose_ChangeTheStatus_AndRepeatsAreNoOps()
    {
        var id = await Bank.OpenAsync();

        var frozen = await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "fraud check" });
        var frozenAgain = await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "again" });
        var status = (await Host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = frozen.Position })).Account.Status;
        var unfrozen = await Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = id });
        var unfrozenAgain = await Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = id });
        var closed = await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = id });

        Assert.Equal(AccountStatus.Frozen, status);
        Assert.Equal((2, 2), (frozen.Version, frozenAgain.Version));
        Assert.Equal(frozen.Position, frozenAgain.Position);
        Assert.Equal((3, 3), (unfrozen.Version, unfrozenAgain.Version));
        Assert.Equal(4, closed.Version);
        Assert.Equal(4, (await StreamAsync(id)).Count);
        var got = await Host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = closed.Position });
        Assert.Equal(AccountStatus.Closed, got.Account.Status);
    }

    [Fact]
    public async Task EveryBusinessRejection_HasItsStatusAndReason_AndWritesNothing()
    {
        var id = await Bank.OpenAsync(deposit: 1_000);
        var frozen = await Bank.OpenAsync(deposit: 1_000);
        await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = frozen });
        var closed = await Bank.OpenAsync();
        await Accounts.CloseAccountAsync(new CloseAccountRequest { AccountId = closed });
        var before = (await StreamAsync(id)).Count;

        var insufficient = await Rejected("INSUFFICIENT_FUNDS", () => Accounts.WithdrawMoneyAsync(new() { AccountId = id, AmountMinor = 1_001, CurrencyCode = "EUR" }).ResponseAsync);
        await Rejected("CURRENCY_MISMATCH", () => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "USD" }).ResponseAsync);
        await Rejected("BALANCE_NOT_ZERO", () => Accounts.CloseAccountAsync(new() { AccountId = id }).ResponseAsync);
        await Rejected("ACCOUNT_FROZEN", () => Accounts.WithdrawMoneyAsync(new() { AccountId = frozen, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync);
        await Rejected("ACCOUNT_CLOSED", () => Accounts.DepositMoneyAsync(new() { AccountId = closed, AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync);
        await Rejected("ACCOUNT_CLOSED", () => Accounts.FreezeAccountAsync(new() { AccountId = closed }).ResponseAsync);
        await Rejected("ACCOUNT_NOT_FOUND", () => Accounts.DepositMoneyAsync(new() { AccountId = NewId(), AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, StatusCode.NotFound);
        await Rejected("ACCOUNT_ALREADY_EXISTS", () => Accounts.OpenAccountAsync(new() { AccountId = id, OwnerName = "X", CurrencyCode = "EUR" }).ResponseAsync, StatusCode.AlreadyExists);
        await Rejected("WRONG_EXPECTED_VERSION", () => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", ExpectedVersion = 1 }).ResponseAsync, StatusCode.Aborted);

        Assert.Equal("1000", insufficient.Metadata["balance_minor"]);
        Assert.Equal(before, (await StreamAsync(id)).Count);
        Assert.Equal(3, (await StreamAsync(frozen)).Count);
        Assert.Equal(2, (await StreamAsync(closed)).Count);
        Assert.Empty(await StreamAsync("never-opened"));
    }

    [Fact]
    public async Task ExpectedVersion_WhenRight_IsAccepted()
    {
        var id = await Bank.OpenAsync();

        var deposited = await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 5, CurrencyCode = "EUR", ExpectedVersion = 1 });

        Assert.Equal(2, deposited.Version);
    }

    [Fact]
    public async Task ARetriedRequestId_ReturnsTheFirstResponse_AndAppendsNothing()
    {
        var id = await Bank.OpenAsync();
        var request = new DepositMoneyRequest { AccountId = id, AmountMinor = 700, CurrencyCode = "EUR", RequestId = NewId() };

        var first = await Accounts.DepositMoneyAsync(request);
        await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 300, CurrencyCode = "EUR" });
        var retried = await Accounts.DepositMoneyAsync(request);

        Assert.Equal(first, retried);
        Assert.Equal(3, (await StreamAsync(id)).Count);
    }

    [Fact]
    public async Task AnOpenRetriedWithoutAnAccountId_ReturnsTheSameAssignedId()
    {
        var request = new OpenAccountRequest { OwnerName = "Katherine Johnson", CurrencyCode = "USD", RequestId = NewId() };

        var first = await Accounts.OpenAccountAsync(request);
        var retried = await Accounts.OpenAccountAsync(request);

        Assert.Equal(first, retried);
    }

    [Fact]
    public async Task ARequestIdReusedForADifferentRequest_IsRejected_AndWritesNothing()
    {
        var id = await Bank.OpenAsync();
        var requestId = NewId();
        await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 700, CurrencyCode = "EUR", RequestId = requestId });

        await Rejected("REQUEST_ID_REUSED", () => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 701, CurrencyCode = "EUR", RequestId = requestId }).ResponseAsync);
        await Rejected("REQUEST_ID_REUSED", () => Accounts.WithdrawMoneyAsync(new() { AccountId = id, AmountMinor = 700, CurrencyCode = "EUR", RequestId = requestId }).ResponseAsync);

        Assert.Equal(2, (await StreamAsync(id)).Count);
    }

    [Fact]
    public async Task ANoOpsRequestId_IsSpent_ItsRetryAnswersAsFirst_AndADepositWithItIsRefused()
    {
        var id = await Bank.OpenAsync();
        await Accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = id, Reason = "audit" });
        var freeze = new FreezeAccountRequest { AccountId = id, Reason = "audit", RequestId = NewId() };
        var noOp = await Accounts.FreezeAccountAsync(freeze);

        await Rejected("REQUEST_ID_REUSED", () => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", RequestId = freeze.RequestId }).ResponseAsync);
        await Accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = id });
        var retried = await Accounts.FreezeAccountAsync(freeze);

        Assert.Equal(noOp, retried);
        Assert.Equal(3, (await StreamAsync(id)).Count); // opened, frozen, unfrozen: the retry froze nothing again
    }

    [Fact]
    public async Task AFailedCommandIsNotLogged_SoItsRetryIsDecidedAfresh()
    {
        var id = await Bank.OpenAsync();
        var withdraw = new WithdrawMoneyRequest { AccountId = id, AmountMinor = 500, CurrencyCode = "EUR", RequestId = NewId() };

        await Rejected("INSUFFICIENT_FUNDS", () => Accounts.WithdrawMoneyAsync(withdraw).ResponseAsync);
        await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 500, CurrencyCode = "EUR" });
        var retried = await Accounts.WithdrawMoneyAsync(withdraw);

        Assert.Equal(0, retried.BalanceMinor);
    }

    [Fact]
    public async Task AHundredParallelWithdrawals_NeverOverdraw_AndEverySuccessHasItsOwnVersion()
    {
        var id = await Bank.OpenAsync(deposit: 5_000);

        var attempts = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            try
            {
                var r = await Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 100, CurrencyCode = "EUR", Reference = $"w{i}" });
                return (Ok: true, Version: r.Version, BalanceMinor: r.BalanceMinor, Reason: "");
            }
            catch (RpcException e)
            {
                return (Ok: false, Version: 0L, BalanceMinor: 0L, Reason: e.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason ?? e.StatusCode.ToString());
            }
        }));

        var successes = attempts.Where(a => a.Ok).ToList();
        Assert.Equal(50, successes.Count);
        Assert.All(attempts.Where(a => !a.Ok), a => Assert.Equal("INSUFFICIENT_FUNDS", a.Reason));
        Assert.Equal(Enumerable.Range(3, 50).Select(v => (long)v), successes.Select(s => s.Version).Order());
        Assert.Equal(Enumerable.Range(0, 50).Select(n => (long)n * 100), successes.Select(s => s.BalanceMinor).Order());
        var events = await StreamAsync(id);
        Assert.Equal(52, events.Count);
        Assert.Equal(Enumerable.Range(1, 52).Select(v => (long)v), events.Select(e => e.StreamVersion));
    }

    [Fact]
    public async Task AnUnknownAccount_IsNotFoundOnTheReadSide()
    {
        await Rejected("ACCOUNT_NOT_FOUND", () => Host.Query.GetAccountAsync(new GetAccountRequest { AccountId = NewId() }).ResponseAsync, StatusCode.NotFound);
    }

    [Fact]
    public async Task MalformedInput_IsInvalidArgument_NamingTheFields()
    {
        var id = await Bank.OpenAsync();
        var tooLong = new string('x', 129);

        await Invalid(() => Accounts.OpenAccountAsync(new() { OwnerName = "", CurrencyCode = "eur" }).ResponseAsync, "owner_name", "currency_code");
        await Invalid(() => Accounts.OpenAccountAsync(new() { AccountId = "has space", OwnerName = "A", CurrencyCode = "EUR" }).ResponseAsync, "account_id");
        // A URL path cannot name these, so the JSON API could never reach them: nothing new may be called so.
        await Invalid(() => Accounts.OpenAccountAsync(new() { AccountId = "..", OwnerName = "A", CurrencyCode = "EUR" }).ResponseAsync, "account_id");
        await Invalid(() => Accounts.PlaceHoldAsync(new() { AccountId = id, HoldId = ".", AmountMinor = 1, CurrencyCode = "EUR", Ttl = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMinutes(1)) }).ResponseAsync, "hold_id");
        await Invalid(() => Bank.Payments.TransferMoneyAsync(new() { PaymentId = "..", FromAccountId = id, ToAccountId = "other", AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "payment_id");
        await Invalid(() => Bank.Orders.PlaceOrderAsync(new() { OrderId = ".", CustomerAccountId = id, MerchantAccountId = "other", AmountMinor = 1, CurrencyCode = "EUR" }).ResponseAsync, "order_id");
        await Invalid(() => Accounts.OpenAccountAsync(new() { OwnerName = "A\u0000B", CurrencyCode = "XXX" }).ResponseAsync, "owner_name", "currency_code");
        await Invalid(() => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 0, CurrencyCode = "EUR" }).ResponseAsync, "amount_minor");
        await Invalid(() => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = long.MinValue, CurrencyCode = "EUR" }).ResponseAsync, "amount_minor");
        await Invalid(() => Accounts.WithdrawMoneyAsync(new() { AccountId = id, AmountMinor = long.MaxValue, CurrencyCode = "EU" }).ResponseAsync, "amount_minor", "currency_code");
        await Invalid(() => Accounts.WithdrawMoneyAsync(new() { AccountId = "", AmountMinor = 1, CurrencyCode = "EUR", ExpectedVersion = -1 }).ResponseAsync, "account_id", "expected_version");
        await Invalid(() => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", RequestId = tooLong }).ResponseAsync, "request_id");
        await Invalid(() => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR", Reference = new string('r', 501) }).ResponseAsync, "reference");
        await Invalid(() => Accounts.FreezeAccountAsync(new() { AccountId = "'; drop table events; --" }).ResponseAsync, "account_id");
        await Invalid(() => Accounts.UnfreezeAccountAsync(new() { AccountId = new string('a', 65) }).ResponseAsync, "account_id");
        await Invalid(() => Accounts.CloseAccountAsync(new() { AccountId = "" }).ResponseAsync, "account_id");
        await Invalid(() => Host.Query.GetAccountAsync(new() { AccountId = id, MinPosition = -1 }).ResponseAsync, "min_position");
        // Where a check mirrors a domain rule, the refusal carries that rule's reason (proto comments), as the domain's would.
        await InvalidFor("OWNER_NAME_REQUIRED", "owner_name", () => Accounts.OpenAccountAsync(new() { OwnerName = " ", CurrencyCode = "EUR" }).ResponseAsync);
        await InvalidFor("UNKNOWN_CURRENCY", "currency_code", () => Accounts.OpenAccountAsync(new() { OwnerName = "A", CurrencyCode = "eur" }).ResponseAsync);
        await InvalidFor("INVALID_AMOUNT", "amount_minor", () => Accounts.DepositMoneyAsync(new() { AccountId = id, AmountMinor = 0, CurrencyCode = "EUR" }).ResponseAsync);

        Assert.Single(await StreamAsync(id));
    }
}
