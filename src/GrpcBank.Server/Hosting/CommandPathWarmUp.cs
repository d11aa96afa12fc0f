using System.Buffers;
using System.Diagnostics;
using Google.Protobuf;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Payments;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using GrpcBank.Contracts;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Server.Accounts;
using GrpcBank.Server.Payments;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Runs the command path once at start-up, before the server listens, so a restarted server's first command does not
/// pay for the process's first use of it: JIT compilation, the JSON metadata of every stored event type, the event
/// store's first queries (request log, snapshot, stream) and its append up to the guard, the snapshot JSON.
/// It writes nothing. Accepted commands — two accounts opened, a deposit, a withdrawal, a transfer — run through the
/// gRPC layer's code (validation, command context, reply message, its serialisation) and handlers of their own over
/// <see cref="WarmUpStore"/>, which lets every append go as far as the store's guard and answers it as written; the
/// payment process reacts to the events they would have written; and the newest account stream the store holds is read
/// and folded the way a first command loads it (saving a snapshot if the fold passes one, as a command's would). The
/// server's own handlers and their caches are not touched.
/// </summary>
/// <remarks>
/// Measured before it existed: the first deposit after a restart took 200–650 ms on a 100,001-event stream that had a
/// snapshot, against 8 ms warm. With only a refused command warmed, 44–83 ms: the first accepted command still compiled
/// some 170 methods — reading and decoding stored events, the accepted decision, the append's success — on its own thread;
/// with the handlers warmed but not the gRPC layer, some 25: the outcome's mapping to the reply message and its serialisation.
/// </remarks>
public sealed class CommandPathWarmUp(
    IEventStore store, TimeProvider clock, RejectionReason reasonOf, ILoggerFactory loggers, ILogger<CommandPathWarmUp> logger)
    : IHostedService
{
    /// <summary>How far back from the head the warm-up looks for an account stream to load.</summary>
    private const int RecentEvents = 500;

    /// <summary>How long the warm-up waits for the newest events to read as settled (see <see cref="LoadNewestAccountAsync"/>).</summary>
    private static readonly TimeSpan SettlePatience = TimeSpan.FromSeconds(2);

    public async Task StartAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            EventCodecs.Accounts.WarmUp();
            EventCodecs.Orders.WarmUp();
            EventCodecs.Payments.WarmUp();
            var dryStore = new WarmUpStore(store);
            using (Application.Telemetry.Unrecorded())
                await AcceptedCommandsAsync(new Handlers(dryStore, clock, new StreamLocks(), reasonOf, loggers), ct);
            MadeUpHistory = dryStore.Written;
            // The payment process's reaction to them, as the relay's first delivery would run it (pure: no step is run).
            foreach (var e in MadeUpHistory)
                if (EventCodecs.Decode(e) is { } domainEvent) _ = PaymentProcess.React(domainEvent).Count;
            var loaded = await LoadNewestAccountAsync(ct);
            StateSnapshots<AccountState>.Deserialize(StateSnapshots<AccountState>.Serialize(Account.Decider.Initial));
            logger.LogInformation("Command path warmed up in {Elapsed} ms (accepted commands written up to the guard; loaded {Loaded})",
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, loaded ?? "no stream: no account among the newest settled events");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Only a head start: a store that is not reachable yet is the health check's business, not a reason not to start.
            logger.LogWarning(e, "Command path warm-up failed; the first command will pay for it");
        }
    }

    /// <summary>The events the warm-up's accepted commands would have written (none was), once it has run: <see cref="ReadSideWarmUp"/> applies them.</summary>
    public IReadOnlyList<RecordedEvent> MadeUpHistory { get; private set; } = [];

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>
    /// Each command goes through the gRPC layer's own code as a call's would — validation, the command context (with and
    /// without a request id), the outcome's mapping to the reply message, and that reply serialised — and is accepted on
    /// the state the one before it left (in the handlers' own cache), as on a live server.
    /// </summary>
    private static async Task AcceptedCommandsAsync(Handlers dry, CancellationToken ct)
    {
        var (payer, payee, payment) = ($"warm-up-{Guid.NewGuid():N}", $"warm-up-{Guid.NewGuid():N}", $"warm-up-{Guid.NewGuid():N}");
        foreach (var account in new[] { payer, payee })
        {
            var open = new OpenAccountRequest { AccountId = account, OwnerName = "Warm Up", CurrencyCode = "EUR", RequestId = account };
            Serialise(await AccountGrpcService.Open(dry, open, ContextOf(open, "/bank.accounts.v1.AccountService/OpenAccount"), ct));
        }
        var deposit = new DepositMoneyRequest { AccountId = payer, AmountMinor = 2, CurrencyCode = "EUR", Reference = "warm-up" };
        Serialise(await AccountGrpcService.Deposit(dry, deposit, ContextOf(deposit, "/bank.accounts.v1.AccountService/DepositMoney"), ct));
        var withdrawal = new WithdrawMoneyRequest { AccountId = payer, AmountMinor = 1, CurrencyCode = "EUR", Reference = "warm-up" };
        Serialise(await AccountGrpcService.Withdraw(dry, withdrawal, ContextOf(withdrawal, "/bank.accounts.v1.AccountService/WithdrawMoney"), ct));
        var transfer = new TransferMoneyRequest
        {
            PaymentId = payment, FromAccountId = payer, ToAccountId = payee, AmountMinor = 1, CurrencyCode = "EUR", Reference = "warm-up", RequestId = payment,
        };
        Serialise(await PaymentGrpcService.Transfer(dry, transfer, ContextOf(transfer, "/bank.payments.v1.PaymentService/TransferMoney"), ct));
    }

    /// <summary>The command context a call of <paramref name="method"/> would get (a request id makes it a logged request).</summary>
    private static CommandContext ContextOf<TRequest>(TRequest request, string method) where TRequest : IMessage<TRequest>, IIdempotentRequest =>
        CallContext.For(request, "warm-up", method);

    /// <summary>What the server does with a reply before it sends it (a refused call never gets this far).</summary>
    private static void Serialise(IMessage reply) => reply.WriteTo(new ArrayBufferWriter<byte>(reply.CalculateSize()));

    /// <summary>
    /// Folds the account stream written to most recently, from its newest snapshot on, into a cache of its own; returns
    /// its id, or null when there is none. The fold is the stream's true state, so the snapshot it may save is too.
    /// </summary>
    private async Task<string?> LoadNewestAccountAsync(CancellationToken ct)
    {
        var head = await store.HeadPositionAsync(ct);
        if (head == 0) return null;
        // A new PostgreSQL store sees no position as settled before its second look, and only once the transactions
        // running at its first have ended (SettledPosition): look again for a moment.
        var patience = Stopwatch.StartNew();
        IReadOnlyList<RecordedEvent> recent;
        while ((recent = await store.ReadAllAsync(Math.Max(0, head - RecentEvents), RecentEvents, ct)).Count == 0 && patience.Elapsed < SettlePatience)
            await Task.Delay(10, ct);
        if (recent.LastOrDefault(e => StreamIds.Parse(e.StreamId).Exists(p => p.Kind == StreamKind.Account)) is not { } newest) return null;
        await new StreamStates<AccountEvent, AccountState>(store, Account.Decider.Initial, Account.Evolve, EventCodecs.Accounts, logger)
            .FreshAsync(newest.StreamId, ct);
        return newest.StreamId;
    }
}
