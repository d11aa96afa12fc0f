using GrpcBank.Application.Commands;
using GrpcBank.Domain.Accounts;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// An atomic batch is decided on the cached folds of its streams, the payments' among them; a refusal, or an append that
/// lost its guard to another writer, is decided again on what the store holds before it is answered.
/// </summary>
public sealed class AtomicBatchSpecs
{
    private readonly AdaAndBob bank = new();

    private readonly AtomicBatch batches;

    public AtomicBatchSpecs() =>
        batches = new AtomicBatch(bank.Store, bank.Accounts, bank.Payments, TimeProvider.System, bank.Locks, rejection => rejection.ToString());

    [Fact]
    public async Task GivenTheCachedPayerCannotCoverATransfer_ButTheStoreHoldsMore_WhenRun_ThenItIsDecidedAgainOnTheStore_AndWritten()
    {
        await bank.OpenBothAsync(100);
        AnotherWriterAppends(bank.Store, new AccountEvent.MoneyDeposited(Ada, 50, "EUR", ""));

        var outcome = await batches.RunAsync([AdaAndBob.AdaPaysBob(120)], Ct);

        Assert.Equal([120L], Assert.IsType<AtomicBatchOutcome.Accepted>(outcome).Replies);
        Assert.Equal(30, StoredState(bank.Store).BalanceMinor);
        Assert.Equal(120, bank.StoredBalanceOfBob());
    }

    [Fact]
    public async Task GivenAnotherWriterGotToThePayerFirst_WhenATransferIsRun_ThenItIsDecidedAgainOnTheStore_AndWrittenOnce()
    {
        await bank.OpenBothAsync(100);
        AnotherWriterAppends(bank.Store, new AccountEvent.MoneyWithdrawn(Ada, 60, "EUR", ""));

        var outcome = await batches.RunAsync([AdaAndBob.AdaPaysBob(30), AdaAndBob.AdaPaysBob(10)], Ct);

        Assert.Equal([30L, 10L], Assert.IsType<AtomicBatchOutcome.Accepted>(outcome).Replies);
        Assert.Equal(0, StoredState(bank.Store).BalanceMinor);
        Assert.Equal(40, bank.StoredBalanceOfBob());
    }

    [Fact]
    public async Task GivenTheStoreHoldsLessThanTheCache_WhenATransferItCannotCoverIsRun_ThenTheBatchFailsAtIt_AndWritesNothing()
    {
        await bank.OpenBothAsync(100);
        AnotherWriterAppends(bank.Store, new AccountEvent.MoneyWithdrawn(Ada, 60, "EUR", ""));
        var written = bank.Store.Stream(AdaStream).Count;

        var outcome = await batches.RunAsync([AdaAndBob.AdaPaysBob(10), AdaAndBob.AdaPaysBob(50)], Ct);

        Assert.Equal(1, Assert.IsType<AtomicBatchOutcome.Failed>(outcome).Index);
        Assert.Equal(written, bank.Store.Stream(AdaStream).Count);
        Assert.Equal(0, bank.StoredBalanceOfBob());
    }
}
