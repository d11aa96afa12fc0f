namespace GrpcBank.Domain;

/// <summary>
/// Why a command was refused: a value, never an exception. Each bounded context has its own closed family next to
/// its aggregate (<c>AccountRejection</c>, <c>OrderRejection</c>, <c>PaymentRejection</c>), and the rules on money
/// that every context applies are in <see cref="MoneyRejection"/>. Only this assembly can add a family. How a
/// rejection is shown to a client (its status and public reason) is decided at the edge, not here.
/// </summary>
public abstract record Rejection
{
    private protected Rejection() { }
}

/// <summary>Rules on an amount of money and where it moves, shared by every context that handles money.</summary>
public abstract record MoneyRejection : Rejection
{
    private MoneyRejection() { }

    public sealed record InvalidAmount(long AmountMinor) : MoneyRejection;
    public sealed record UnknownCurrency(string CurrencyCode) : MoneyRejection;
    public sealed record SameAccount(string AccountId) : MoneyRejection;
}
