using GrpcBank.Domain.Accounts;

namespace GrpcBank.Domain.Tests.Accounts;

/// <summary>Starts a Given/When/Then case of the account decider.</summary>
public static class Spec
{
    private static readonly IReadOnlyDictionary<Type, string> StorageNames =
        AccountEventTypes.ByName.ToDictionary(entry => entry.Value, entry => entry.Key);

    public static DeciderSpec<AccountCommand, AccountEvent, AccountState> Given(params AccountEvent[] history) =>
        new(Account.Decider, e => StorageNames[e.GetType()], history);
}
