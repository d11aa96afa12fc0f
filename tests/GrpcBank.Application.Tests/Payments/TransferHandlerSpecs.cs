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

    public TransferHandlerSpecs() => transfers = NewTransfers();

    /// <summary>A transfer handler of its own (a server), with its own caches and locks, on the specs' store.</summary>
    private TransferHandler NewTransfers() => new(store,
        new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts),
        new StreamStates<PaymentEvent, PaymentState>(store, PaymentState.Initial, Payment.Evolve, EventCodecs.Payments),
        new StreamStates<OrderEvent, OrderState>(store, Order.Decider.Initial, Order.Evolve, EventCodecs.Orders),
        rejection => rejection.ToString(), TimeProvider.System, new StreamLocks());

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

    public static TheoryData<string> LosingAccounts => new() { Ada, "bob" };

    /// <summary>
    /// When another writer wins every append, the answer is a conflict that names the version the last try expected on
    /// the stream it lost on and the version that stream is at: the payer's or the payee's.
    /// </summary>
    [Theory]
    [MemberData(nameof(LosingAccounts))]
    public async Task ATransfer_WhoseEveryAppendLosesToAnotherWriter_IsAConflict_NamingTheVersionsOfTheStreamItLostOn_AndWritesNothing(string lostOn)
    {
        await GivenAdaAndBob(adaBalance: 1_000);
        var before = store.Stream(Account.StreamId(lostOn)).Count;
        store.BeforeAppend = _ =>
        {
            AnotherWriterDeposits(lostOn);
            return Task.CompletedTask;
        };

        var outcome = await transfers.HandleAsync("p-1", new TransferCommand.TransferMoney("p-1", Ada, "bob", 100, "EUR", "books"),
            CommandContext.None, StreamReply.For<PaymentState>("p-1"), Ct);

        // Each try reads the stream again (the other writer's deposits so far) and loses to the next.
        var conflict = Assert.IsType<CommandOutcome<StreamReply>.WrongExpectedVersion>(outcome);
        Assert.Equal((before + TransferHandler.MaxAppends - 1, before + TransferHandler.MaxAppends), (conflict.ExpectedVersion, conflict.ActualVersion));
        Assert.Empty(store.Stream(Payment.StreamId("p-1")));
    }

    /// <summary>A refusal read from a stale cache is not the answer: the transfer is decided again on what the store holds.</summary>
    [Fact]
    public async Task GivenAPayerTheCacheHoldsShortOfMoney_WhenAnotherWriterFundedIt_ThenTheTransferIsDecidedOnTheStoreAndAccepted()
    {
        await GivenAdaAndBob(adaBalance: 100);
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await Transfer("p-1", 100));
        AnotherWriterDeposits(Ada);

        var outcome = await Transfer("p-2", 1);

        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(outcome);
        Assert.Equal(100 - 100 + 1_000 - 1, StoredState(store).BalanceMinor);
    }

    /// <summary>
    /// A payment or order this server once found missing, made since by another server, is found: the cached absence
    /// is checked against the store before the refund or the order's step is refused as not found.
    /// </summary>
    [Fact]
    public async Task ARefund_OfAPaymentAnotherServerMadeAfterThisOneFoundItMissing_IsDecidedOnTheStoredPayment()
    {
        await GivenAdaAndBob(adaBalance: 1_000);
        var refund = new TransferCommand.RefundPayment("p-1", "damaged");
        var missing = await transfers.HandleAsync("p-1", refund, CommandContext.None, StreamReply.For<PaymentState>("p-1"), Ct);
        Assert.IsType<PaymentRejection.PaymentNotFound>(Assert.IsType<CommandOutcome<StreamReply>.Rejected>(missing).Rejection);
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await Transfer("p-1", 100, NewTransfers()));

        var outcome = await transfers.HandleAsync("p-1", refund, CommandContext.None, StreamReply.For<PaymentState>("p-1"), Ct);

        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(outcome);
        Assert.Equal(1_000, StoredState(store).BalanceMinor);
    }

    /// <summary>As a payment (above): a merchant's account or an order this server once found missing, made since by another server, is found.</summary>
    [Fact]
    public async Task AnOrderAnotherServerPlaced_AndAMerchantAccountAnotherServerOpened_AfterThisOneFoundThemMissing_AreFound()
    {
        await GivenAdaAndBob(adaBalance: 1_000);
        var now = DateTimeOffset.UtcNow;
        var place = new OrderFundsCommand.PlaceOrder(new OrderCommand.PlaceOrder("o-1", Ada, "carol", 100, "EUR", "a teapot"), now.AddMinutes(10), now);
        var cancel = new OrderFundsCommand.CancelOrder("o-1", "changed my mind");
        Task<CommandOutcome<StreamReply>> Send(OrderFundsCommand command, TransferHandler on) =>
            on.HandleAsync("o-1", command, CommandContext.None, StreamReply.For<OrderState>("o-1"), Ct);
        Assert.IsType<AccountRejection.AccountNotFound>(Assert.IsType<CommandOutcome<StreamReply>.Rejected>(await Send(place, transfers)).Rejection);
        Assert.IsType<OrderRejection.OrderNotFound>(Assert.IsType<CommandOutcome<StreamReply>.Rejected>(await Send(cancel, transfers)).Rejection);
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await NewHandler(store).HandleAsync("carol",
            new AccountCommand.OpenAccount("carol", "Carol", "EUR"), CommandContext.None, StreamReply.For<AccountState>("carol"), Ct));

        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await Send(place, NewTransfers()));

        var cancelled = await Send(cancel, transfers);
        var placed = await transfers.HandleAsync("o-2", place with { Order = place.Order with { OrderId = "o-2" } }, CommandContext.None,
            StreamReply.For<OrderState>("o-2"), Ct);

        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(cancelled);
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(placed);
    }

    /// <summary>
    /// A refund or an order's step that names nothing that exists is refused as not found, and writes nothing; sent with
    /// a request id already spent on another command, it is answered as that id's reuse, as any command is.
    /// </summary>
    [Fact]
    public async Task ARefundOrAnOrderStepOfNothing_IsRefusedAsNotFound_OrWithASpentRequestId_AnsweredAsReused()
    {
        await GivenAdaAndBob(adaBalance: 1_000);
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await Transfer("p-1", 100, context: new CommandContext("r-1", "fingerprint-of-the-transfer")));
        var events = (await store.ReadAllAsync(0, int.MaxValue, Ct)).Count;
        async Task<CommandOutcome<StreamReply>[]> OfNothing(CommandContext context) =>
        [
            await transfers.HandleAsync("p-none", new TransferCommand.RefundPayment("p-none", "damaged"), context, StreamReply.For<PaymentState>("p-none"), Ct),
            await transfers.HandleAsync("o-none", new TransferCommand.PayOrder("o-none"), context, StreamReply.For<PaymentState>("o-none"), Ct),
            await transfers.HandleAsync("o-none", new OrderFundsCommand.FulfillOrder("o-none", DateTimeOffset.UnixEpoch), context, StreamReply.For<OrderState>("o-none"), Ct),
            await transfers.HandleAsync("o-none", new OrderFundsCommand.CancelOrder("o-none", "changed my mind"), context, StreamReply.For<OrderState>("o-none"), Ct),
        ];

        var notFound = await OfNothing(CommandContext.None);
        var reused = await OfNothing(new CommandContext("r-1", "fingerprint-of-another-command"));

        Assert.Equal([new PaymentRejection.PaymentNotFound("p-none"), new OrderRejection.OrderNotFound("o-none"), new OrderRejection.OrderNotFound("o-none"),
            new OrderRejection.OrderNotFound("o-none")], notFound.Select(o => Assert.IsType<CommandOutcome<StreamReply>.Rejected>(o).Rejection));
        Assert.All(reused, o => Assert.Equal("r-1", Assert.IsType<CommandOutcome<StreamReply>.RequestIdReused>(o).RequestId));
        Assert.Equal(events, (await store.ReadAllAsync(0, int.MaxValue, Ct)).Count);
    }

    /// <summary>A refund retried with its request id gets its first reply, not the refusal of a refund of a refunded payment.</summary>
    [Fact]
    public async Task ARetriedRefund_GetsItsFirstReply_AndMovesNoMoreMoney()
    {
        await GivenAdaAndBob(adaBalance: 1_000);
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await Transfer("p-1", 100));
        var refund = new TransferCommand.RefundPayment("p-1", "damaged");
        var context = new CommandContext("refund-1", "fingerprint-of-the-refund");
        var first = Assert.IsType<CommandOutcome<StreamReply>.Accepted>(
            await transfers.HandleAsync("p-1", refund, context, StreamReply.For<PaymentState>("p-1"), Ct));

        var retried = await transfers.HandleAsync("p-1", refund, context, StreamReply.For<PaymentState>("p-1"), Ct);

        Assert.Equal(first with { Replayed = true }, retried);
        Assert.Equal(1_000, StoredState(store).BalanceMinor);
    }

    [Fact]
    public async Task ATransferThePayerCannotCover_IsRefusedForInsufficientFunds_AndWritesNothing_NotEvenTheRequestLog()
    {
        await GivenAdaAndBob(adaBalance: 100);
        var events = (await store.ReadAllAsync(0, int.MaxValue, Ct)).Count;

        var outcome = await Transfer("p-1", 101, context: new CommandContext("t-1", "fingerprint-of-the-transfer"));

        Assert.IsType<AccountRejection.InsufficientFunds>(Assert.IsType<CommandOutcome<StreamReply>.Rejected>(outcome).Rejection);
        Assert.Equal(events, (await store.ReadAllAsync(0, int.MaxValue, Ct)).Count);
        Assert.Null(await store.FindRequestAsync("t-1", Ct));
    }

    /// <summary>
    /// On warm streams a transfer costs one append and no read: each append's states are cached for the next decision on
    /// the payer, the payee and the payment while it commits.
    /// </summary>
    [Fact]
    public async Task TransfersOnWarmAccounts_AreOneAppendEach_AndNoRead()
    {
        await GivenAdaAndBob(adaBalance: 1_000);
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await Transfer("p-1", 100));
        var (reads, appends) = (store.StreamReads, store.AppendsAsked.Count);

        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await Transfer("p-2", 100));
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await transfers.HandleAsync("p-1", new TransferCommand.RefundPayment("p-1", "damaged"),
            CommandContext.None, StreamReply.For<PaymentState>("p-1"), Ct));

        Assert.Equal((reads, appends + 2), (store.StreamReads, store.AppendsAsked.Count));
        Assert.Equal(1_000 - 100, StoredState(store).BalanceMinor);
    }

    private async Task GivenAdaAndBob(long adaBalance)
    {
        var accounts = NewHandler(store);
        await Given(accounts, Open());
        await Given(accounts, Deposit(adaBalance));
        Assert.IsType<CommandOutcome<StreamReply>.Accepted>(await accounts.HandleAsync("bob", new AccountCommand.OpenAccount("bob", "Bob", "EUR"),
            CommandContext.None, StreamReply.For<AccountState>("bob"), Ct));
    }

    private Task<CommandOutcome<StreamReply>> Transfer(string paymentId, long amount, TransferHandler? on = null, CommandContext? context = null) =>
        (on ?? transfers).HandleAsync(paymentId, new TransferCommand.TransferMoney(paymentId, Ada, "bob", amount, "EUR", "books"),
            context ?? CommandContext.None, StreamReply.For<PaymentState>(paymentId), Ct);

    private void AnotherWriterDeposits(string accountId) =>
        AnotherWriterAppends(store, new AccountEvent.MoneyDeposited(accountId, 1_000, "EUR", "elsewhere"), accountId);
}
