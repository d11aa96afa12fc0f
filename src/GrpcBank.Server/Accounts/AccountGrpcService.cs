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
    public override async Task<OpenAccountResponse> OpenAccount(OpenAccountRequest request, ServerCallContext context)
    {
        new FieldErrors()
            .Id("account_id", request.AccountId, optional: true)
            .Text("owner_name", request.OwnerName, MaxNameLength, required: true)
            .CurrencyCode("currency_code", request.CurrencyCode)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var accountId = request.AccountId.Length > 0 ? request.AccountId : Guid.CreateVersion7().ToString("N");
        var command = new AccountCommand.OpenAccount(accountId, request.OwnerName.Trim(), request.CurrencyCode);
        var (reply, position, _) = await Run(accountId, command, request, null, context);
        return new OpenAccountResponse { AccountId = reply.AggregateId, Version = reply.Version, Position = position };
    }

    public override async Task<DepositMoneyResponse> DepositMoney(DepositMoneyRequest request, ServerCallContext context)
    {
        Validate(request.AccountId, request.AmountMinor, request.CurrencyCode, request.Reference, request.RequestId,
            request.HasExpectedVersion ? request.ExpectedVersion : null);
        var command = new AccountCommand.DepositMoney(request.AccountId, request.AmountMinor, request.CurrencyCode, request.Reference);
        var (reply, position, _) = await Run(request.AccountId, command, request, request.HasExpectedVersion ? request.ExpectedVersion : null, context);
        return new DepositMoneyResponse { Version = reply.Version, Position = position, BalanceMinor = reply.BalanceMinor };
    }

    public override async Task<WithdrawMoneyResponse> WithdrawMoney(WithdrawMoneyRequest request, ServerCallContext context)
    {
        Validate(request.AccountId, request.AmountMinor, request.CurrencyCode, request.Reference, request.RequestId,
            request.HasExpectedVersion ? request.ExpectedVersion : null);
        var command = new AccountCommand.WithdrawMoney(request.AccountId, request.AmountMinor, request.CurrencyCode, request.Reference);
        var (reply, position, _) = await Run(request.AccountId, command, request, request.HasExpectedVersion ? request.ExpectedVersion : null, context);
        return new WithdrawMoneyResponse { Version = reply.Version, Position = position, BalanceMinor = reply.BalanceMinor };
    }

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

    private static void Validate(string accountId, long amountMinor, string currencyCode, string reference, string requestId, long? expectedVersion)
    {
        var errors = new FieldErrors()
            .Id("account_id", accountId)
            .Amount("amount_minor", amountMinor)
            .CurrencyCode("currency_code", currencyCode)
            .Text("reference", reference, MaxTextLength)
            .RequestId(requestId);
        if (expectedVersion is { } v) errors.NotNegative("expected_version", v);
        errors.ThrowIfAny();
    }

    private async Task<CommandOutcome<AccountReply>.Accepted> Run<TRequest>(
        string accountId, AccountCommand command, TRequest request, long? expectedVersion, ServerCallContext context)
        where TRequest : Google.Protobuf.IMessage<TRequest>, Contracts.IIdempotentRequest =>
        ErrorMapper.AcceptedOrThrow(await handlers.Accounts.HandleAsync(
            accountId, command, CallContext.For(request, context), AccountReply.For(accountId), context.CancellationToken, expectedVersion));
}
