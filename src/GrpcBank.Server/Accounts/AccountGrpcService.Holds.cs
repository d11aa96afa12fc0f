using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Domain.Accounts;
using GrpcBank.Server.Errors;
using GrpcBank.Server.Hosting;
using GrpcBank.Server.Query;
using static GrpcBank.Server.Errors.FieldErrors;

namespace GrpcBank.Server.Accounts;

/// <summary>Holds, the overdraft limit and restrictions. The time a hold is placed or captured is the server's clock.</summary>
public sealed partial class AccountGrpcService
{
    public override async Task<PlaceHoldResponse> PlaceHold(PlaceHoldRequest request, ServerCallContext context)
    {
        var now = clock.GetUtcNow();
        var errors = new FieldErrors()
            .Id("account_id", request.AccountId)
            .NewId("hold_id", request.HoldId)
            .Amount("amount_minor", request.AmountMinor)
            .CurrencyCode("currency_code", request.CurrencyCode)
            .Text("reference", request.Reference, MaxTextLength)
            .RequestId(request.RequestId);
        var expiresAt = HoldExpiryPrecision.Of(ExpiryOf(request, now, errors));
        errors.ThrowIfAny();
        var holdId = request.HoldId.Length > 0 ? request.HoldId : Guid.CreateVersion7().ToString("N");
        var command = new AccountCommand.PlaceHold(request.AccountId, holdId, request.AmountMinor, request.CurrencyCode, request.Reference,
            expiresAt, now);
        var (reply, position, _) = ErrorMapper.AcceptedOrThrow(await handlers.Accounts.HandleAsync(request.AccountId, command,
            CallContext.For(request, context), AccountReply.ForHold(request.AccountId, holdId), context.CancellationToken));
        // A reply logged before holds were recorded in it answers with this call's id and expiry, as it did then. A hold
        // placed before expiries were kept to the microsecond is shown as ListHolds shows it.
        return new PlaceHoldResponse
        {
            HoldId = reply.HoldId ?? holdId, Version = reply.Version, Position = position, BalanceMinor = reply.BalanceMinor,
            HeldMinor = reply.HeldMinor, AvailableMinor = reply.AvailableMinor,
            ExpiresAt = Timestamp.FromDateTimeOffset(HoldExpiryPrecision.Of(reply.HoldExpiresAt ?? expiresAt)),
        };
    }

    /// <summary>
    /// The expiry from expires_at or ttl (exactly one), no more than <see cref="Account.MaxHoldLifetime"/> ahead. A retry
    /// with the same ttl gets the first run's reply from the request log, its hold's stored expiry included, so a ttl does
    /// not stretch a retried hold.
    /// </summary>
    private static DateTimeOffset ExpiryOf(PlaceHoldRequest request, DateTimeOffset now, FieldErrors errors)
    {
        switch (request.ExpiryCase)
        {
            case PlaceHoldRequest.ExpiryOneofCase.ExpiresAt:
                if (errors.Time("expires_at", request.ExpiresAt) is not { } at) return now;
                // One already past is the domain's to judge: the same hold placed again is no change, however late.
                if (at > now) errors.HoldExpiry("expires_at", at, now);
                return at;
            case PlaceHoldRequest.ExpiryOneofCase.Ttl:
                return errors.Duration("ttl", request.Ttl) is { } ttl ? errors.HoldExpiryAfter("ttl", ttl, now) : now;
            default:
                errors.Add("expires_at", "expires_at or ttl is required");
                return now;
        }
    }

    public override async Task<CaptureHoldResponse> CaptureHold(CaptureHoldRequest request, ServerCallContext context)
    {
        var errors = new FieldErrors()
            .Id("account_id", request.AccountId)
            .Id("hold_id", request.HoldId)
            .Text("reference", request.Reference, MaxTextLength)
            .RequestId(request.RequestId);
        // 0 means all of the hold; anything else must be a valid amount.
        if (request.AmountMinor != 0) errors.Amount("amount_minor", request.AmountMinor);
        errors.ThrowIfAny();
        var command = new AccountCommand.CaptureHold(request.AccountId, request.HoldId, request.AmountMinor, request.Reference, clock.GetUtcNow());
        var (reply, position, _) = await Run(request.AccountId, command, request, null, context);
        return new CaptureHoldResponse
        {
            Version = reply.Version, Position = position, BalanceMinor = reply.BalanceMinor, HeldMinor = reply.HeldMinor,
            AvailableMinor = reply.AvailableMinor,
        };
    }

    public override async Task<ReleaseHoldResponse> ReleaseHold(ReleaseHoldRequest request, ServerCallContext context)
    {
        new FieldErrors().Id("account_id", request.AccountId).Id("hold_id", request.HoldId).RequestId(request.RequestId).ThrowIfAny();
        var (reply, position, _) = await Run(request.AccountId, new AccountCommand.ReleaseHold(request.AccountId, request.HoldId), request, null, context);
        return new ReleaseHoldResponse
        {
            Version = reply.Version, Position = position, BalanceMinor = reply.BalanceMinor, HeldMinor = reply.HeldMinor,
            AvailableMinor = reply.AvailableMinor,
        };
    }

    public override async Task<SetOverdraftLimitResponse> SetOverdraftLimit(SetOverdraftLimitRequest request, ServerCallContext context)
    {
        new FieldErrors().Id("account_id", request.AccountId).OverdraftLimit("limit_minor", request.LimitMinor).RequestId(request.RequestId).ThrowIfAny();
        var (reply, position, _) = await Run(request.AccountId, new AccountCommand.SetOverdraftLimit(request.AccountId, request.LimitMinor),
            request, null, context);
        return new SetOverdraftLimitResponse { Version = reply.Version, Position = position };
    }

    public override async Task<RestrictAccountResponse> RestrictAccount(RestrictAccountRequest request, ServerCallContext context)
    {
        new FieldErrors()
            .Id("account_id", request.AccountId)
            .Blocks(request.AccountId, request.BlockDebits, request.BlockCredits)
            .Text("reason", request.Reason, MaxTextLength)
            .RequestId(request.RequestId)
            .ThrowIfAny();
        var command = new AccountCommand.RestrictAccount(request.AccountId, request.BlockDebits, request.BlockCredits, request.Reason);
        var (reply, position, _) = await Run(request.AccountId, command, request, null, context);
        return new RestrictAccountResponse { Version = reply.Version, Position = position };
    }

    public override async Task<LiftRestrictionResponse> LiftRestriction(LiftRestrictionRequest request, ServerCallContext context)
    {
        new FieldErrors().Id("account_id", request.AccountId).RequestId(request.RequestId).ThrowIfAny();
        var (reply, position, _) = await Run(request.AccountId, new AccountCommand.LiftRestriction(request.AccountId), request, null, context);
        return new LiftRestrictionResponse { Version = reply.Version, Position = position };
    }
}
