namespace GrpcBank.Domain.Accounts;

/// <summary>Why the account decider refused a command.</summary>
public abstract record AccountRejection : Rejection
{
    private AccountRejection() { }

    public sealed record AccountNotFound(string AccountId) : AccountRejection;
    public sealed record AccountAlreadyExists(string AccountId) : AccountRejection;
    public sealed record OwnerNameRequired(string AccountId) : AccountRejection;
    public sealed record CurrencyMismatch(string AccountCurrency, string RequestedCurrency) : AccountRejection;
    public sealed record InsufficientFunds(long BalanceMinor, long RequestedMinor) : AccountRejection;
    public sealed record BalanceLimitExceeded(long BalanceMinor, long RequestedMinor) : AccountRejection;
    public sealed record AccountFrozen(string AccountId) : AccountRejection;
    public sealed record AccountClosed(string AccountId) : AccountRejection;
    public sealed record BalanceNotZero(long BalanceMinor) : AccountRejection;
}
