using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Application.Payments;

/// <summary>
/// Runs the atomic money decisions (<see cref="Transfer"/>, and an order's holds: <see cref="OrderFunds"/>): takes the
/// states of every stream in the boundary (the payment, both accounts, and the order it pays — those of them it has) from the same folds the other handlers keep, decides once, and
/// appends the events of every stream in one multi-stream append with a guard per stream. When another writer got to
/// any of them first, it reads them all again and decides again, a bounded number of times, then answers ABORTED.
/// A rejection writes nothing, not even the request log. The streams' locks are held while deciding and handing the
/// append to the store, not while it commits: the next decision on any of them goes ahead on the states it leaves, guarded
/// by its last events (<see cref="StreamStates{TEvent, TState}.RememberUnsettled"/>).
/// </summary>
/// <remarks>
/// A stream the cache does not hold is taken as empty rather than read: the append's guard (expected version 0) catches
/// it if it exists, so a transfer on warm accounts costs one round trip, its new payment stream included. A decision
/// that leaves a stream of the boundary unwritten (a rejection, a refusal recorded on the payment and order, nothing to
/// do) is not guarded by that stream's version, so it is only taken on states read fresh from the store.
/// </remarks>
public sealed class TransferHandler(
    IEventStore store,
    StreamStates<AccountEvent, AccountState> accounts,
    StreamStates<PaymentEvent, PaymentState> payments,
    StreamStates<OrderEvent, OrderState> orders,
    RejectionReason reasonOf,
    TimeProvider clock,
    StreamLocks locks) : ICommandHandler<TransferCommand, PaymentState>, ICommandHandler<OrderFundsCommand, OrderState>
{
    /// <summary>Appends tried before a decision that keeps losing to other writers is answered with a conflict (ABORTED).</summary>
    public const int MaxAppends = 5;

    /// <param name="aggregateId">The payment's id (the order's for <see cref="TransferCommand.PayOrder"/>).</param>
    /// <param name="reply">Built from the payment's state and version after the decision.</param>
    public async Task<CommandOutcome<TReply>> HandleAsync<TReply>(
        string aggregateId, TransferCommand command, CommandContext context, ReplyWith<PaymentState, TReply> reply, CancellationToken ct,
        long? expectedVersion = null)
    {
        if (expectedVersion is not null) throw new ArgumentException("a transfer decision takes no expected version", nameof(expectedVersion));
        switch (command)
        {
            case TransferCommand.TransferMoney c:
                return await RunAsync(new Boundary(c.PaymentId, c.FromAccountId, c.ToAccountId, null),
                    s => Transfer.Decide(c, s.Payment.State, s.Payer.State, s.Payee.State), context, PaymentReply(reply), ct);

            case TransferCommand.RefundPayment c:
                // The accounts are the payment's own, fixed when it was made.
                var payment = await payments.StartedAsync(Payment.StreamId(c.PaymentId), p => p.Status != PaymentStatus.Uninitiated, ct);
                if (payment.State.Status == PaymentStatus.Uninitiated)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.Rejected(new PaymentRejection.PaymentNotFound(c.PaymentId));
                return await RunAsync(new Boundary(c.PaymentId, payment.State.FromAccountId, payment.State.ToAccountId, null),
                    s => Transfer.Refund(c, s.Payment.State, s.Payer.State, s.Payee.State), context, PaymentReply(reply), ct);

            case TransferCommand.PayOrder c:
                if (await PlacedOrderAsync(c.OrderId, ct) is not { } o)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.Rejected(new OrderRejection.OrderNotFound(c.OrderId));
                return await RunAsync(new Boundary(o.PaymentId, o.CustomerAccountId, o.MerchantAccountId, o.OrderId),
                    s => Transfer.PayOrder(s.Order.State, s.Payment.State, s.Payer.State, s.Payee.State, r => reasonOf(r)), context,
                    PaymentReply(reply), ct);

            default:
                throw new ArgumentOutOfRangeException(nameof(command), command, "unknown transfer command");
        }
    }

    /// <summary>An order's money decisions (<see cref="OrderFunds"/>); the reply is built from the order's state and version.</summary>
    /// <param name="aggregateId">The order's id.</param>
    public async Task<CommandOutcome<TReply>> HandleAsync<TReply>(
        string aggregateId, OrderFundsCommand command, CommandContext context, ReplyWith<OrderState, TReply> reply, CancellationToken ct,
        long? expectedVersion = null)
    {
        if (expectedVersion is not null) throw new ArgumentException("an order's money decision takes no expected version", nameof(expectedVersion));
        Func<States, TReply> answer = s => reply(s.Order.State, s.Order.Version);
        switch (command)
        {
            case OrderFundsCommand.PlaceOrder c:
                // The merchant's account is read, not written, so it is outside the boundary: only what never changes back
                // (opened, closed, its currency) is judged on it (OrderFunds.Place), the rest when the order is fulfilled.
                var merchant = (await accounts.StartedAsync(Account.StreamId(c.Order.MerchantAccountId), a => a.Status != AccountStatus.Unopened, ct)).State;
                return await RunAsync(new Boundary(null, c.Order.CustomerAccountId, null, c.Order.OrderId),
                    s => OrderFunds.Place(c, s.Order.State, s.Payer.State, merchant, r => reasonOf(r)), context, answer, ct);

            case OrderFundsCommand.FulfillOrder c:
                if (await PlacedOrderAsync(c.OrderId, ct) is not { } fulfilled)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.Rejected(new OrderRejection.OrderNotFound(c.OrderId));
                return await RunAsync(new Boundary(fulfilled.PaymentId, fulfilled.CustomerAccountId, fulfilled.MerchantAccountId, fulfilled.OrderId),
                    s => OrderFunds.Fulfil(c, s.Order.State, s.Payment.State, s.Payer.State, s.Payee.State), context, answer, ct);

            case OrderFundsCommand.CancelOrder c:
                if (await PlacedOrderAsync(c.OrderId, ct) is not { } cancelled)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.Rejected(new OrderRejection.OrderNotFound(c.OrderId));
                return await RunAsync(new Boundary(null, cancelled.CustomerAccountId, null, cancelled.OrderId),
                    s => OrderFunds.Cancel(c, s.Order.State, s.Payer.State), context, answer, ct);

            default:
                throw new ArgumentOutOfRangeException(nameof(command), command, "unknown order funds command");
        }
    }

    /// <summary>An order that exists (its accounts and payment are fixed when it is placed, so a cached fold names them), or null.</summary>
    private async Task<OrderState?> PlacedOrderAsync(string orderId, CancellationToken ct)
    {
        var order = (await orders.StartedAsync(Order.StreamId(orderId), o => o.Status != OrderStatus.Unplaced, ct)).State;
        return order.Status == OrderStatus.Unplaced ? null : order;
    }

    private static Func<States, TReply> PaymentReply<TReply>(ReplyWith<PaymentState, TReply> reply) => s => reply(s.Payment.State, s.Payment.Version);

    private async Task<CommandOutcome<TReply>> RunAsync<TReply>(
        Boundary boundary, Func<States, Either<Rejection, TransferEvents>> decide, CommandContext context, Func<States, TReply> reply,
        CancellationToken ct)
    {
        AppendResult.WrongExpectedVersion? lost = null;
        for (var appends = 0; ; appends++)
        {
            Task<AppendResult> appending;
            Task settled;
            TReply answer;
            // The locks cover the decision and the hand-over to the store, not the commit (StreamStates.RememberUnsettled).
            using (await locks.AcquireAsync(boundary.StreamIds, ct))
            {
                // After a lost race (another writer got to one of the streams first), read them all again.
                var current = lost is null ? Cached(boundary) : await FreshAsync(boundary, ct);
                var fresh = lost is not null;
                // A request logged before loses its appends too (the store reports a stale guard before a logged id): a
                // retry gets its first reply, not the conflict.
                if (appends == MaxAppends)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.WrongExpectedVersion(lost!.ExpectedVersion, boundary.VersionOf(current, lost!.StreamId));
                var (decision, events) = Decide(decide, current);
                if (!fresh && !boundary.AllWrittenBy(events))
                {
                    // What leaves a stream unwritten must not rest on the cache: decide again on what the store holds.
                    current = await FreshAsync(boundary, ct);
                    fresh = true;
                    (decision, events) = Decide(decide, current);
                }
                if (events.IsEmpty)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? (decision.IsLeft
                            ? new CommandOutcome<TReply>.Rejected((Rejection)decision)
                            : await RequestLog.AcceptUnwrittenAsync(store, context, reply(current), current.Position, ct));

                var next = current.After(events);
                answer = reply(next);
                var parts = boundary.Appends(current, events, context);
                appending = store.AppendAsync(new AppendRequest(parts, RequestLog.EntryFor(context, answer), clock.GetUtcNow()), ct);
                settled = RememberUnsettled(boundary, current, next, parts, appending);
            }
            var (outcome, lostRace) = await AppendAnswer.OfAsync(settled, appending, answer, store, context, ct);
            if (outcome is not null) return outcome;
            lost = lostRace;
        }
    }

    private static (Either<Rejection, TransferEvents> Decision, TransferEvents Events) Decide(
        Func<States, Either<Rejection, TransferEvents>> decide, States current)
    {
        var decision = decide(current);
        return (decision, decision.Match(Right: events => events, Left: _ => TransferEvents.None));
    }

    private States Cached(Boundary b) => new(
        b.PaymentStream is { } payment ? payments.CachedOrEmpty(payment) : Unused(PaymentState.Initial), accounts.CachedOrEmpty(b.PayerStream),
        b.PayeeStream is { } payee ? accounts.CachedOrEmpty(payee) : Unused(AccountState.Initial),
        b.OrderStream is { } order ? orders.CachedOrEmpty(order) : Unused(OrderState.Initial));

    private async Task<States> FreshAsync(Boundary b, CancellationToken ct) => new(
        b.PaymentStream is { } payment ? await payments.FreshAsync(payment, ct) : Unused(PaymentState.Initial),
        await accounts.FreshAsync(b.PayerStream, ct),
        b.PayeeStream is { } payee ? await accounts.FreshAsync(payee, ct) : Unused(AccountState.Initial),
        b.OrderStream is { } order ? await orders.FreshAsync(order, ct) : Unused(OrderState.Initial));

    /// <summary>Caches the states the append leaves on each stream it writes, before it commits (<see cref="StreamStates{TEvent, TState}.RememberUnsettled"/>).</summary>
    private Task RememberUnsettled(Boundary b, States before, States after, IReadOnlyList<StreamAppend> parts, Task<AppendResult> append) =>
        Task.WhenAll(parts.Select(part =>
        {
            var last = part.Events[^1].EventId;
            return part.StreamId == b.PaymentStream ? payments.RememberUnsettled(part.StreamId, before.Payment, after.Payment, last, append)
                : part.StreamId == b.PayerStream ? accounts.RememberUnsettled(part.StreamId, before.Payer, after.Payer, last, append)
                : part.StreamId == b.PayeeStream ? accounts.RememberUnsettled(part.StreamId, before.Payee, after.Payee, last, append)
                : orders.RememberUnsettled(part.StreamId, before.Order, after.Order, last, append);
        }));

    /// <summary>The place of a stream a boundary does not have (an order's placement has no payment or merchant): never read, never written.</summary>
    private static Folded<T> Unused<T>(T initial) => new(initial, 0, 0);

    /// <summary>The streams one decision covers: the payer's account always; the payment, payee and order when it has them.</summary>
    private sealed record Boundary(string? PaymentId, string PayerId, string? PayeeId, string? OrderId)
    {
        public string? PaymentStream => PaymentId is null ? null : Payment.StreamId(PaymentId);
        public string PayerStream => Account.StreamId(PayerId);
        public string? PayeeStream => PayeeId is null ? null : Account.StreamId(PayeeId);
        public string? OrderStream => OrderId is null ? null : Order.StreamId(OrderId);

        public IEnumerable<string> StreamIds => new[] { PaymentStream, PayerStream, PayeeStream, OrderStream }.OfType<string>();

        /// <summary>Whether the append of these events guards every stream the decision looked at.</summary>
        public bool AllWrittenBy(TransferEvents e) =>
            (PaymentId is null || !e.Payment.IsEmpty) && !e.Payer.IsEmpty && (PayeeId is null || !e.Payee.IsEmpty) && (OrderId is null || !e.Order.IsEmpty);

        public long VersionOf(States s, string streamId) =>
            streamId == PaymentStream ? s.Payment.Version
            : streamId == PayerStream ? s.Payer.Version
            : streamId == PayeeStream ? s.Payee.Version
            : s.Order.Version;

        public IReadOnlyList<StreamAppend> Appends(States current, TransferEvents e, CommandContext context)
        {
            var metadata = context.MetadataJson();
            var parts = new List<StreamAppend>();
            void Add<TEvent, TState>(string stream, Folded<TState> before, Seq<TEvent> events, EventCodec<TEvent> codec) where TEvent : class
            {
                if (events.IsEmpty) return;
                parts.Add(before.Then(stream, events.Map(x => codec.ToEventData(x, metadata)).ToList()));
            }
            if (PaymentStream is { } payment) Add(payment, current.Payment, e.Payment, EventCodecs.Payments);
            Add(PayerStream, current.Payer, e.Payer, EventCodecs.Accounts);
            if (PayeeStream is { } payee) Add(payee, current.Payee, e.Payee, EventCodecs.Accounts);
            if (OrderStream is { } order) Add(order, current.Order, e.Order, EventCodecs.Orders);
            return parts;
        }
    }

    /// <summary>The folded states of a boundary's streams.</summary>
    private sealed record States(Folded<PaymentState> Payment, Folded<AccountState> Payer, Folded<AccountState> Payee, Folded<OrderState> Order)
    {
        /// <summary>The newest position among them: the consistency token of an answer that wrote nothing.</summary>
        public long Position => Math.Max(Math.Max(Payment.Position, Order.Position), Math.Max(Payer.Position, Payee.Position));

        public States After(TransferEvents e) => new(
            Next(Payment, e.Payment, Domain.Payments.Payment.Evolve), Next(Payer, e.Payer, Account.Evolve), Next(Payee, e.Payee, Account.Evolve),
            Next(Order, e.Order, Domain.Orders.Order.Evolve));

        private static Folded<T> Next<T, TEvent>(Folded<T> f, Seq<TEvent> events, Func<T, TEvent, T> evolve) =>
            events.IsEmpty ? f : new Folded<T>(events.Fold(f.State, evolve), f.Version + events.Count, f.Position);
    }
}
