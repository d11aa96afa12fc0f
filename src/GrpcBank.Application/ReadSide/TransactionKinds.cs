namespace GrpcBank.Application.ReadSide;

/// <summary>
/// Which movements bring money in (credits) and which take it out (debits): the one home of that rule for the
/// projection's running balance and every read store's summaries.
/// </summary>
public static class TransactionKinds
{
    public static readonly IReadOnlyList<TransactionKind> Credits =
        [TransactionKind.Deposit, TransactionKind.PaymentCredit, TransactionKind.RefundCredit];

    /// <summary>Every kind that is not a credit, in declaration order.</summary>
    public static readonly IReadOnlyList<TransactionKind> Debits = Enum.GetValues<TransactionKind>().Except(Credits).ToList();

    public static bool IsCredit(this TransactionKind kind) => Credits.Contains(kind);

    /// <summary>How a movement of this kind changes the balance: +1 or -1 times its amount.</summary>
    public static int Sign(this TransactionKind kind) => kind.IsCredit() ? 1 : -1;
}
