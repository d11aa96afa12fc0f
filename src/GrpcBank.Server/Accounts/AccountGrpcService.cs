using Grpc.Core;
using GrpcBank.Application.Commands;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Domain.Accounts;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using static GrpcBank.Server.Errors.FieldErrors;

namespace GrpcBank.Server.Accounts;

/// <summary>bank.accounts.v1.AccountService: validates the wire request, runs the command, maps the outcome.</summary>
public sealed partial class AccountGrpcService(Handlers handlers, TimeProvider clock) : AccountService.AccountServiceBase
{
    public override Task<OpenAccountResponse> OpenAccount(OpenAccountRequest request, ServerCallContext context) =>
        Open(handlers, request, CallContext.For(request, context), context.CancellationToken);

    /// <summary>OpenAccount with a call's command context (the start-up warm-up runs it over handlers that write nothing).</summary>
    public static async Task<OpenAccountResponse> Open(Handlers handlers, OpenAccountRequest request, CommandContext context, CancellationToken ct)
    {
        new FieldErrors()
            .NewId("account_id", request.AccountId)
            .OwnerName("owner_name", request.OwnerName)
            .CurrencyCode("currency_code", request.CurrencyCode)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var accountId = request.AccountId.Length > 0 ? request.AccountId : Guid.CreateVersion7().ToString("N");
        var command = new AccountCommand.OpenAccount(accountId, request.OwnerName.Trim(), request.CurrencyCode);
        var (reply, position, _) = await Run(handlers, accountId, command, context, null, ct);
        return new OpenAccountResponse { AccountId = reply.AggregateId, Version = reply.Version, Position = position };
    }

    public override Task<DepositMoneyResponse> DepositMoney(DepositMoneyRequest request, ServerCallContext context) =>
        Deposit(handlers, request, CallContext.For(request, context), context.CancellationToken);

    public override Task<WithdrawMoneyResponse> WithdrawMoney(WithdrawMoneyRequest request, ServerCallContext context) =>
        Withdraw(handlers, request, CallContext.For(request, context), context.CancellationToken);

    /// <summary>DepositMoney, alone or as a command of a batch (<paramref name="fieldPrefix"/> names where it sits).</summary>
    public static async Task<DepositMoneyResponse> Deposit(
        Handlers handlers, DepositMoneyRequest request, CommandContext context, CancellationToken ct, string fieldPrefix = "")
    {
        Validate(request, fieldPrefix);
        var (reply, position, _) = await Run(handlers, request.AccountId, DepositCommand(request), context,
            request.HasExpectedVersion ? request.ExpectedVersion : null, ct);
        return DepositResponse(reply, position);
    }

    /// <summary>WithdrawMoney, alone or as a command of a batch (<paramref name="fieldPrefix"/> names where it sits).</summary>
    public static async Task<WithdrawMoneyResponse> Withdraw(
        Handlers handlers, WithdrawMoneyRequest request, CommandContext context, CancellationToken ct, string fieldPrefix = "")
    {
        Validate(request, fieldPrefix);
        var (reply, position, _) = await Run(handlers, request.AccountId, WithdrawCommand(request), context,
            request.HasExpectedVersion ? request.ExpectedVersion : null, ct);
        return WithdrawResponse(reply, position);
    }

    public static AccountCommand DepositCommand(DepositMoneyRequest r) => new AccountCommand.DepositMoney(r.AccountId, r.AmountMinor, r.CurrencyCode, r.Reference);

    public static AccountCommand WithdrawCommand(WithdrawMoneyRequest r) => new AccountCommand.WithdrawMoney(r.AccountId, r.AmountMinor, r.CurrencyCode, r.Reference);

    public static DepositMoneyResponse DepositResponse(AccountReply reply, long position) =>
        new() { Version = reply.Version, Position = position, BalanceMinor = reply.BalanceMinor };

    public static WithdrawMoneyResponse WithdrawResponse(AccountReply reply, long position) =>
        new() { Version = reply.Version, Position = position, BalanceMinor = reply.BalanceMinor };

    public static void Validate(DepositMoneyRequest r, string fieldPrefix = "") =>
        Validate(r.AccountId, r.AmountMinor, r.CurrencyCode, r.Reference, r.RequestId, r.HasExpectedVersion ? r.ExpectedVersion : null, fieldPrefix);

    public static void Validate(WithdrawMoneyRequest r, string fieldPrefix = "") =>
        Validate(r.AccountId, r.AmountMinor, r.CurrencyCode, r.Reference, r.RequestId, r.HasExpectedVersion ? r.ExpectedVersion : null, fieldPrefix);

    public override async Task<FreezeAccountResponse> FreezeAccount(FreezeAccountRequest request, ServerCallContext context)
    {
        new FieldErrors()
            .Id("account_id", request.AccountId)
            .Text("reason", request.Reason, MaxTextLength)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var (reply, position, _) = await Run(request.AccountId, new AccountCommand.FreezeAccount(request.AccountId, request.Reason), request, null, context);
        return new FreezeAccountResponse { Version = reply.Version, Position = position };
    }

    public override async Task<UnfreezeAccountResponse> UnfreezeAccount(UnfreezeAccountRequest request, ServerCallContext context)
    {
        new FieldErrors().Id("account_id", request.AccountId).RequestId(request.RequestId).ThrowIfAny();
        var (reply, position, _) = await Run(request.AccountId, new AccountCommand.UnfreezeAccount(request.AccountId), request, null, context);
        return new UnfreezeAccountResponse { Version = reply.Version, Position = position };
    }

    public override async Task<CloseAccountResponse> CloseAccount(CloseAccountRequest request, ServerCallContext context)
    {
        new FieldErrors().Id("account_id", request.AccountId).RequestId(request.RequestId).ThrowIfAny();
        var (reply, position, _) = await Run(request.AccountId, new AccountCommand.CloseAccount(request.AccountId), request, null, context);
        return new CloseAccountResponse { Version = reply.Version, Position = position };
    }

    private static void Validate(
        string accountId, long amountMinor, string currencyCode, string reference, string requestId, long? expectedVersion, string fieldPrefix)
    {
        var errors = new FieldErrors(fieldPrefix)
            .Id("account_id", accountId)
            .Amount("amount_minor", amountMinor)
            .CurrencyCode("currency_code", currencyCode)
            .Text("reference", reference, MaxTextLength)
            .RequestId(requestId);
        if (expectedVersion is { } v) errors.NotNegative("expected_version", v);
        errors.ThrowIfAny();
    }

    private Task<CommandOutcome<AccountReply>.Accepted> Run<TRequest>(
        string accountId, AccountCommand command, TRequest request, long? expectedVersion, ServerCallContext context)
        where TRequest : Google.Protobuf.IMessage<TRequest>, Contracts.IIdempotentRequest =>
        Run(handlers, accountId, command, CallContext.For(request, context), expectedVersion, context.CancellationToken);

    private static async Task<CommandOutcome<AccountReply>.Accepted> Run(
        Handlers handlers, string accountId, AccountCommand command, CommandContext context, long? expectedVersion, CancellationToken ct) =>
        ErrorMapper.AcceptedOrThrow(await handlers.Accounts.HandleAsync(accountId, command, context, AccountReply.For(accountId), ct, expectedVersion));
}
