using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// The batch specs' bank: one grouped store, the folded states and stream locks a batch shares with the single-command
/// path, Ada's handler, and Bob to pay.
/// </summary>
public sealed class AdaAndBob
{
    public const string Bob = "bob";

    public InMemoryEventStore Store { get; } = new(grouped: true);

    public StreamLocks Locks { get; } = new();

    public StreamStates<AccountEvent, AccountState> Accounts { get; }

    public StreamStates<PaymentEvent, PaymentState> Payments { get; }

    public CommandHandler<AccountCommand, AccountEvent, AccountState> Handler { get; }

    public AdaAndBob()
    {
        Accounts = new(Store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts);
        Payments = new(Store, PaymentState.Initial, Payment.Evolve, EventCodecs.Payments);
        Handler = new(Store, Account.Decider, Accounts, EventCodecs.Accounts, Account.StreamId, TimeProvider.System, Locks);
    }

    public static BatchItem AdaPaysBob(long amount) =>
        new BatchItem.Transfer(new TransferCommand.TransferMoney(Guid.NewGuid().ToString("N"), Ada, Bob, amount, "EUR", ""),
            (state, _) => state.AmountMinor, typeof(long), CommandContext.None);

    /// <summary>Ada opened with <paramref name="balance"/>, and Bob with nothing.</summary>
    public async Task OpenBothAsync(long balance)
    {
        Accepted(await Run(Handler, Open()));
        Accepted(await Run(Handler, Deposit(balance)));
        Assert.IsType<CommandOutcome<long>.Accepted>(await Handler.HandleAsync(
            Bob, new AccountCommand.OpenAccount(Bob, "Bob", "EUR"), CommandContext.None, (state, _) => state.BalanceMinor, Ct));
    }

    public long StoredBalanceOfBob() =>
        Account.Decider.Fold(Store.Stream(Account.StreamId(Bob)).Select(EventCodecs.Accounts.Decode)).BalanceMinor;
}
