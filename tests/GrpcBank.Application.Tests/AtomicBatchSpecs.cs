using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// An atomic batch is decided on the cached folds of its streams, the payments' among them; a refusal, or an append that
/// lost its guard to another writer, is decided again on what the store holds before it is answered.
/// </summary>
public sealed class AtomicBatchSpecs
{
    private const string Bob = "bob";

    private readonly InMemoryEventStore store = new(grouped: true);

    private readonly CommandHandler<AccountCommand, AccountEvent, AccountState> handler;

    private readonly AtomicBatch batches;

    public AtomicBatchSpecs()
    {
        var accounts = new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts);
        var locks = new StreamLocks();
        handler = new(store, Account.Decider, accounts, EventCodecs.Accounts, Account.StreamId, TimeProvider.System, locks);
        batches = new AtomicBatch(store, accounts,
            new StreamStates<PaymentEvent, PaymentState>(store, PaymentState.Initial, Payment.Evolve, EventCodecs.Payments),
            TimeProvider.System, locks, rejection => rejection.ToString());
    }

    private static BatchItem AdaPaysBob(long amount) =>
        new BatchItem.Transfer(new TransferCommand.TransferMoney(Guid.NewGuid().ToString("N"), Ada, Bob, amount, "EUR", ""),
            (state, _) => state.AmountMinor, typeof(long), CommandContext.None);

    private async Task OpenAdaWithAsync(long balance)
    {
        Accepted(await Run(handler, Open()));
        Accepted(await Run(handler, Deposit(balance)));
    }

    private async Task OpenBobAsync() =>
        Assert.IsType<CommandOutcome<long>.Accepted>(await handler.HandleAsync(
            Bob, new AccountCommand.OpenAccount(Bob, "Bob", "EUR"), CommandContext.None, (state, _) => state.BalanceMinor, Ct));

    private long StoredBalanceOfBob() =>
        Account.Decider.Fold(store.Stream(Account.StreamId(Bob)).Select(EventCodecs.Accounts.Decode)).BalanceMinor;

    [Fact]
    public async Task GivenTheCachedPayerCannotCoverATransfer_ButTheStoreHoldsMore_WhenRun_ThenItIsDecidedAgainOnTheStore_AndWritten()
    {
        await OpenAdaWithAsync(100);
        await OpenBobAsync();
        AnotherWriterAppends(store, new AccountEvent.MoneyDeposited(Ada, 50, "EUR", ""));

        var outcome = await batches.RunAsync([AdaPaysBob(120)], Ct);

        Assert.Equal([120L], Assert.IsType<AtomicBatchOutcome.Accepted>(outcome).Replies);
        Assert.Equal(30, StoredState(store).BalanceMinor);
        Assert.Equal(120, StoredBalanceOfBob());
    }

    [Fact]
    public async Task GivenAnotherWriterGotToThePayerFirst_WhenATransferIsRun_ThenItIsDecidedAgainOnTheStore_AndWrittenOnce()
    {
        await OpenAdaWithAsync(100);
        await OpenBobAsync();
        AnotherWriterAppends(store, new AccountEvent.MoneyWithdrawn(Ada, 60, "EUR", ""));

        var outcome = await batches.RunAsync([AdaPaysBob(30), AdaPaysBob(10)], Ct);

        Assert.Equal([30L, 10L], Assert.IsType<AtomicBatchOutcome.Accepted>(outcome).Replies);
        Assert.Equal(0, StoredState(store).BalanceMinor);
        Assert.Equal(40, StoredBalanceOfBob());
    }

    [Fact]
    public async Task GivenTheStoreHoldsLessThanTheCache_WhenATransferItCannotCoverIsRun_ThenTheBatchFailsAtIt_AndWritesNothing()
    {
        await OpenAdaWithAsync(100);
        await OpenBobAsync();
        AnotherWriterAppends(store, new AccountEvent.MoneyWithdrawn(Ada, 60, "EUR", ""));
        var written = store.Stream(AdaStream).Count;

        var outcome = await batches.RunAsync([AdaPaysBob(10), AdaPaysBob(50)], Ct);

        Assert.Equal(1, Assert.IsType<AtomicBatchOutcome.Failed>(outcome).Index);
        Assert.Equal(written, store.Stream(AdaStream).Count);
        Assert.Equal(0, StoredBalanceOfBob());
    }
}
