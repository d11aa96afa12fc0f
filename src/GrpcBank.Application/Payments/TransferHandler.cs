using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Application.Payments;

/// <summary>
/// Runs the atomic money decisions (<see cref="Transfer"/>): takes the states of every stream in the boundary (the
/// payment, both accounts, and the order it pays) from the same folds the other handlers keep, decides once, and
/// appends the events of every stream in one multi-stream append with a guard per stream. When another writer got to
/// any of them first, it reads them all again and decides again, a bounded number of times, then answers ABORTED.
/// A rejection writes nothing, not even the request log.
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
    StreamLocks locks) : ICommandHandler<TransferCommand, PaymentState>
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
                    s => Transfer.Decide(c, s.Payment.State, s.Payer.State, s.Payee.State), context, reply, ct);

            case TransferCommand.RefundPayment c:
                // The accounts are the payment's own, fixed when it was made.
                var (payment, _) = await payments.CachedAsync(Payment.StreamId(c.PaymentId), ct);
                if (payment.State.Status == PaymentStatus.Uninitiated) payment = await payments.FreshAsync(Payment.StreamId(c.PaymentId), ct);
                if (payment.State.Status == PaymentStatus.Uninitiated)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.Rejected(new PaymentRejection.PaymentNotFound(c.PaymentId));
                return await RunAsync(new Boundary(c.PaymentId, payment.State.FromAccountId, payment.State.ToAccountId, null),
                    s => Transfer.Refund(c, s.Payment.State, s.Payer.State, s.Payee.State), context, reply, ct);

            case TransferCommand.PayOrder c:
                var (order, _) = await orders.CachedAsync(Order.StreamId(c.OrderId), ct);
                if (order.State.Status == OrderStatus.Unplaced) order = await orders.FreshAsync(Order.StreamId(c.OrderId), ct);
                if (order.State.Status == OrderStatus.Unplaced)
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? new CommandOutcome<TReply>.Rejected(new OrderRejection.OrderNotFound(c.OrderId));
                var o = order.State;
                return await RunAsync(new Boundary(o.PaymentId, o.CustomerAccountId, o.MerchantAccountId, o.OrderId),
                    s => Transfer.PayOrder(s.Order.State, s.Payment.State, s.Payer.State, s.Payee.State, r => reasonOf(r)), context, reply, ct);

            default:
                throw new ArgumentOutOfRangeException(nameof(command), command, "unknown transfer command");
        }
    }

    private async Task<CommandOutcome<TReply>> RunAsync<TReply>(
        Boundary boundary, Func<States, Either<Rejection, TransferEvents>> decide, CommandContext context, ReplyWith<PaymentState, TReply> reply,
        CancellationToken ct)
    {
        using var _ = await locks.AcquireAsync(boundary.StreamIds, ct);
        var current = Cached(boundary);
        var fresh = false;
        for (var appends = 1; ; appends++)
        {
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
                    ?? decision.Match<CommandOutcome<TReply>>(
                        Left: rejection => new CommandOutcome<TReply>.Rejected(rejection),
                        Right: _ => new CommandOutcome<TReply>.Accepted(reply(current.Payment.State, current.Payment.Version), current.Position));

            var next = current.After(events);
            var answer = reply(next.Payment.State, next.Payment.Version);
            var append = new AppendRequest(boundary.Appends(current, events, context), RequestLog.EntryFor(context, answer), clock.GetUtcNow());
            switch (await store.AppendAsync(append, ct))
            {
                case AppendResult.Appended a:
                    Remember(boundary, next, events, a.Position);
                    return new CommandOutcome<TReply>.Accepted(answer, a.Position);
                case AppendResult.DuplicateRequest:
                    return await RequestLog.ReplayAsync<TReply>(store, context, ct)
                        ?? throw new InvalidOperationException("request log entry vanished after a duplicate-key conflict");
                case AppendResult.WrongExpectedVersion w:
                    // Another writer got to one of the streams first: read them all again and decide again.
                    current = await FreshAsync(boundary, ct);
                    fresh = true;
                    if (appends == MaxAppends)
                        return new CommandOutcome<TReply>.WrongExpectedVersion(w.ExpectedVersion, boundary.VersionOf(current, w.StreamId));
                    continue;
            }
        }
    }

    private static (Either<Rejection, TransferEvents> Decision, TransferEvents Events) Decide(
        Func<States, Either<Rejection, TransferEvents>> decide, States current)
    {
        var decision = decide(current);
        return (decision, decision.Match(Right: events => events, Left: _ => TransferEvents.None));
    }

    private States Cached(Boundary b) => new(
        payments.CachedOrEmpty(b.PaymentStream), accounts.CachedOrEmpty(b.PayerStream), accounts.CachedOrEmpty(b.PayeeStream),
        b.OrderStream is { } order ? orders.CachedOrEmpty(order) : Unused);

    private async Task<States> FreshAsync(Boundary b, CancellationToken ct) => new(
        await payments.FreshAsync(b.PaymentStream, ct), await accounts.FreshAsync(b.PayerStream, ct), await accounts.FreshAsync(b.PayeeStream, ct),
        b.OrderStream is { } order ? await orders.FreshAsync(order, ct) : Unused);

    /// <summary>Remembers the states this process has just written.</summary>
    private void Remember(Boundary b, States s, TransferEvents written, long position)
    {
        if (!written.Payment.IsEmpty) payments.Remember(b.PaymentStream, s.Payment with { Position = position });
        if (!written.Payer.IsEmpty) accounts.Remember(b.PayerStream, s.Payer with { Position = position });
        if (!written.Payee.IsEmpty) accounts.Remember(b.PayeeStream, s.Payee with { Position = position });
        if (b.OrderStream is { } order && !written.Order.IsEmpty) orders.Remember(order, s.Order with { Position = position });
    }

    /// <summary>The order's place in a boundary without one: never read, never written.</summary>
    private static readonly Folded<OrderState> Unused = new(OrderState.Initial, 0, 0);

    /// <summary>The streams one decision covers.</summary>
    private sealed record Boundary(string PaymentId, string PayerId, string PayeeId, string? OrderId)
    {
        public string PaymentStream => Payment.StreamId(PaymentId);
        public string PayerStream => Account.StreamId(PayerId);
        public string PayeeStream => Account.StreamId(PayeeId);
        public string? OrderStream => OrderId is null ? null : Order.StreamId(OrderId);

        public IEnumerable<string> StreamIds => [PaymentStream, PayerStream, PayeeStream, .. OrderStream is { } o ? [o] : Array.Empty<string>()];

        /// <summary>Whether the append of these events guards every stream the decision looked at.</summary>
        public bool AllWrittenBy(TransferEvents e) =>
            !e.Payment.IsEmpty && !e.Payer.IsEmpty && !e.Payee.IsEmpty && (OrderId is null || !e.Order.IsEmpty);

        public long VersionOf(States s, string streamId) =>
            streamId == PaymentStream ? s.Payment.Version
            : streamId == PayerStream ? s.Payer.Version
            : streamId == PayeeStream ? s.Payee.Version
            : s.Order.Version;

        public IReadOnlyList<StreamAppend> Appends(States current, TransferEvents e, CommandContext context)
        {
            var metadata = context.MetadataJson();
            var parts = new List<StreamAppend>();
            void Add<TEvent>(string stream, long version, Seq<TEvent> events, EventCodec<TEvent> codec) where TEvent : class
            {
                if (events.IsEmpty) return;
                parts.Add(new StreamAppend(stream, version, events.Map(x =>
                {
                    var (type, json) = codec.Encode(x);
                    return new EventData(Guid.CreateVersion7(), type, json, metadata);
                }).ToList()));
            }
            Add(PaymentStream, current.Payment.Version, e.Payment, EventCodecs.Payments);
            Add(PayerStream, current.Payer.Version, e.Payer, EventCodecs.Accounts);
            Add(PayeeStream, current.Payee.Version, e.Payee, EventCodecs.Accounts);
            if (OrderStream is { } order) Add(order, current.Order.Version, e.Order, EventCodecs.Orders);
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
