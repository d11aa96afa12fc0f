using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Payments;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using static GrpcBank.Application.Tests.AccountCommands;

namespace GrpcBank.Application.Tests.Payments;

/// <summary>The atomic money decisions (transfers, refunds, an order's holds) on an in-memory event store.</summary>
public sealed class TransferHandlerSpecs
{
    private readonly InMemoryEventStore store = new();

    private readonly TransferHandler transfers;

    public TransferHandlerSpecs()
    {
        var locks = new StreamLocks();
        transfers = new TransferHandler(store,
            new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts),
            new StreamStates<PaymentEvent, PaymentState>(store, PaymentState.Initial, Payment.Evolve, EventCodecs.Payments),
            new StreamStates<OrderEvent, OrderState>(store, Order.Decider.Initial, Order.Evolve, EventCodecs.Orders),
            rejection => rejection.ToString(), TimeProvider.System, locks);
    }

    /// <summary>
    /// As a single account command's (CommandHandlerSpecs): a retry decided on a stale fold writes again, and the store
    /// reports the stale guard before the logged request id, so while another server kept writing the payer's account
    /// the retry of a done transfer whose id the server assigns lost every append and was answered ABORTED, not with its first reply.
    /// </summary>
    [Fact]
    public async Task ARetriedTransfer_WhoseEveryAppendLosesToAnotherWriter_GetsTheFirstReply_NotAConflict()
    {
        var accounts = NewHandler(store);
        await Given(accounts, Open());
        await Given(accounts, Deposit(1_000));
        await accounts.HandleAsync("bob", new AccountCommand.OpenAccount("bob", "Bob", "EUR"), CommandContext.None,
            StreamReply.For<AccountState>("bob"), Ct);
        var transfer = new TransferCommand.TransferMoney("p-1", Ada, "bob", 100, "EUR", "books");
        var context = new CommandContext("tr-1", "fingerprint-of-the-transfer");
        var first = Assert.IsType<CommandOutcome<StreamReply>.Accepted>(
            await transfers.HandleAsync("p-1", transfer, context, StreamReply.For<PaymentState>("p-1"), Ct));
        store.BeforeAppend = _ =>
        {
            AnotherWriterAppends(store, new AccountEvent.MoneyDeposited(Ada, 1, "EUR", "elsewhere"));
            return Task.CompletedTask;
        };

        // Sent without a payment id, the retry is given a new one, so it decides to write a new payment.
        var retried = await transfers.HandleAsync("p-2", transfer with { PaymentId = "p-2" }, context, StreamReply.For<PaymentState>("p-2"), Ct);

        Assert.Equal(first with { Replayed = true }, retried);
        Assert.Equal(1_000 - 100 + TransferHandler.MaxAppends, StoredState(store).BalanceMinor);
    }
}
