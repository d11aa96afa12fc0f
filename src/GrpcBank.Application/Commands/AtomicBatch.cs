using System.Text.Json;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Application.Commands;

/// <summary>A command of an atomic batch, with its own context (request id) and the reply it answers with.</summary>
public abstract record BatchItem(CommandContext Context, Type ReplyType)
{
    /// <summary>A deposit or a withdrawal.</summary>
    public sealed record ToAccount(string AccountId, AccountCommand Command, ReplyWith<AccountState, object> Reply, Type ReplyType, CommandContext Context)
        : BatchItem(Context, ReplyType);

    /// <summary>A transfer between two accounts (a new payment).</summary>
    public sealed record Transfer(TransferCommand.TransferMoney Command, ReplyWith<PaymentState, object> Reply, Type ReplyType, CommandContext Context)
        : BatchItem(Context, ReplyType);
}

public abstract record AtomicBatchOutcome
{
    private AtomicBatchOutcome() { }

    /// <summary>Every command was written in one commit at <paramref name="Position"/> (or had been: a retried batch).</summary>
    public sealed record Accepted(IReadOnlyList<object> Replies, long Position, bool Replayed = false) : AtomicBatchOutcome;

    /// <summary>The command at <paramref name="Index"/> failed, so nothing was written.</summary>
    public sealed record Failed(int Index, CommandOutcome<object> Outcome) : AtomicBatchOutcome;
}

/// <summary>
/// An atomic batch: deposits, withdrawals and transfers decided in order, each on the states the ones before it leave,
/// and written in one append (one commit) with a guard per stream and a request-log row per command; or, if any one is
/// refused, nothing at all. Like the single handlers it decides on cached folds (every stream it touches is written, so
/// every one is guarded), re-decides on fresh reads before answering a refusal, and retries a lost race a bounded
/// number of times. Like them it holds its streams' locks while deciding and handing the append over, not while it
/// commits, so batches over the same accounts are decided while the one before commits instead of one after another.
/// A batch sent again with its request ids gets its first replies back.
/// </summary>
public sealed class AtomicBatch(
    IEventStore store,
    StreamStates<AccountEvent, AccountState> accounts,
    StreamStates<PaymentEvent, PaymentState> payments,
    TimeProvider clock,
    StreamLocks locks)
{
    public const int MaxAppends = 5;

    public async Task<AtomicBatchOutcome> RunAsync(IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        var streams = commands.SelectMany(StreamsOf).Distinct().ToList();
        var fresh = false;
        for (var appends = 1; ; appends++)
        {
            Written written;
            Task<AppendResult> appending;
            Task settled;
            // The locks cover the decision and the hand-over to the store, not the commit: the next batch (or command) on
            // any of these streams decides on the states this one leaves while it commits (StreamStates.RememberUnsettled).
            using (await locks.AcquireAsync(streams, ct))
            {
                var states = fresh ? await States.FreshAsync(commands, accounts, payments, ct) : States.Cached(commands, accounts, payments);
                var decided = Decide(commands, states);
                if (decided is Refusal && !fresh)
                {
                    // A refusal must not rest on the cache: decide again on what the store holds.
                    fresh = true;
                    states = await States.FreshAsync(commands, accounts, payments, ct);
                    decided = Decide(commands, states);
                }
                if (decided is Refusal refusal)
                    return await ReplayAsync(commands, ct) ?? new AtomicBatchOutcome.Failed(refusal.Index, new CommandOutcome<object>.Rejected(refusal.Rejection));

                written = (Written)decided;
                appending = store.AppendAsync(new AppendRequest(written.Appends, null, clock.GetUtcNow()) { MoreRequests = written.Requests }, ct);
                settled = states.RememberUnsettled(written.Appends, appending);
            }
            // Answered only once committed (an append resting on an earlier unsettled one commits only if that one did) and
            // once the cache has taken the outcome in. Settling never faults.
            await settled;
            switch (await appending)
            {
                case AppendResult.Appended a:
                    return new AtomicBatchOutcome.Accepted(written.Replies, a.Position);
                case AppendResult.DuplicateRequest:
                    return await ReplayAsync(commands, ct)
                        ?? throw new InvalidOperationException("request log entry vanished after a duplicate-key conflict");
                case AppendResult.WrongExpectedVersion w:
                    fresh = true;
                    if (appends < MaxAppends) continue;
                    var index = commands.Select((c, i) => (c, i)).First(x => StreamsOf(x.c).Contains(w.StreamId)).i;
                    var now = await States.FreshAsync(commands, accounts, payments, ct);
                    return new AtomicBatchOutcome.Failed(index, new CommandOutcome<object>.WrongExpectedVersion(w.ExpectedVersion, now.VersionOf(w.StreamId)));
            }
        }
    }

    private static IEnumerable<string> StreamsOf(BatchItem command) => command switch
    {
        BatchItem.ToAccount c => [Account.StreamId(c.AccountId)],
        BatchItem.Transfer c => [Payment.StreamId(c.Command.PaymentId), Account.StreamId(c.Command.FromAccountId), Account.StreamId(c.Command.ToAccountId)],
        _ => throw new ArgumentOutOfRangeException(nameof(command), command, null),
    };

    private abstract record Decision;

    private sealed record Refusal(int Index, Rejection Rejection) : Decision;

    private sealed record Written(IReadOnlyList<StreamAppend> Appends, IReadOnlyList<RequestLogEntry> Requests, IReadOnlyList<object> Replies) : Decision;

    /// <summary>Decides every command in order on <paramref name="states"/>, which it moves forward as it goes.</summary>
    private static Decision Decide(IReadOnlyList<BatchItem> commands, States states)
    {
        var events = new Dictionary<string, List<EventData>>(StringComparer.Ordinal);
        var requests = new List<RequestLogEntry>();
        var replies = new List<object>();
        void Add<TEvent>(string stream, Seq<TEvent> decided, EventCodec<TEvent> codec, CommandContext context) where TEvent : class
        {
            if (decided.IsEmpty) return;
            if (!events.TryGetValue(stream, out var list)) events[stream] = list = [];
            var metadata = context.MetadataJson();
            foreach (var e in decided)
            {
                var (type, json) = codec.Encode(e);
                list.Add(new EventData(Guid.CreateVersion7(), type, json, metadata));
            }
        }

        for (var i = 0; i < commands.Count; i++)
        {
            object reply;
            switch (commands[i])
            {
                case BatchItem.ToAccount c:
                {
                    var stream = Account.StreamId(c.AccountId);
                    var decision = Account.Decider.Decide(c.Command, states.Accounts[stream].State);
                    if (decision.IsLeft) return new Refusal(i, decision.LeftToSeq().Head);
                    var decided = decision.RightToSeq().Head;
                    var next = states.Accounts[stream] = Next(states.Accounts[stream], decided, Account.Evolve);
                    Add(stream, decided, EventCodecs.Accounts, c.Context);
                    reply = c.Reply(next.State, next.Version);
                    break;
                }
                case BatchItem.Transfer c:
                {
                    var (paymentStream, payerStream, payeeStream) =
                        (Payment.StreamId(c.Command.PaymentId), Account.StreamId(c.Command.FromAccountId), Account.StreamId(c.Command.ToAccountId));
                    var decision = Domain.Payments.Transfer.Decide(
                        c.Command, states.Payments[paymentStream].State, states.Accounts[payerStream].State, states.Accounts[payeeStream].State);
                    if (decision.IsLeft) return new Refusal(i, decision.LeftToSeq().Head);
                    var decided = decision.RightToSeq().Head;
                    var payment = states.Payments[paymentStream] = Next(states.Payments[paymentStream], decided.Payment, Payment.Evolve);
                    states.Accounts[payerStream] = Next(states.Accounts[payerStream], decided.Payer, Account.Evolve);
                    states.Accounts[payeeStream] = Next(states.Accounts[payeeStream], decided.Payee, Account.Evolve);
                    Add(paymentStream, decided.Payment, EventCodecs.Payments, c.Context);
                    Add(payerStream, decided.Payer, EventCodecs.Accounts, c.Context);
                    Add(payeeStream, decided.Payee, EventCodecs.Accounts, c.Context);
                    reply = c.Reply(payment.State, payment.Version);
                    break;
                }
                default:
                    throw new ArgumentOutOfRangeException(nameof(commands), commands[i], null);
            }
            replies.Add(reply);
            if (RequestLog.EntryFor(commands[i].Context, reply) is { } entry) requests.Add(entry);
        }
        return new Written([.. events.Select(e => states.AppendAfterStart(e.Key, e.Value))], requests, replies);
    }

    private static Folded<T> Next<T, TEvent>(Folded<T> f, Seq<TEvent> events, Func<T, TEvent, T> evolve) =>
        events.IsEmpty ? f : new Folded<T>(events.Fold(f.State, evolve), f.Version + events.Count, f.Position);

    /// <summary>
    /// The first replies of a batch sent again: when every command's request id is logged for the same request. When
    /// only some are (or one was used for another request), the first such command is refused as a reused id; null when
    /// none is logged.
    /// </summary>
    private async Task<AtomicBatchOutcome?> ReplayAsync(IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        var logged = new List<LoggedRequest?>();
        foreach (var command in commands)
            logged.Add(command.Context.RequestId is { } id ? await store.FindRequestAsync(id, ct) : null);
        var first = logged.FindIndex(l => l is not null);
        if (first < 0) return null;
        var same = logged.Select((l, i) => l is not null && l.Fingerprint == (commands[i].Context.Fingerprint ?? "")).ToList();
        if (same.All(s => s))
            return new AtomicBatchOutcome.Accepted(
                [.. logged.Select((l, i) => JsonSerializer.Deserialize(l!.ReplyJson, commands[i].ReplyType, EventCodec<object>.Json)!)],
                logged.Max(l => l!.Position), Replayed: true);
        return new AtomicBatchOutcome.Failed(first, new CommandOutcome<object>.RequestIdReused(commands[first].Context.RequestId!));
    }

    /// <summary>The folds of every stream a batch touches, moved forward as it is decided, and the versions they started at.</summary>
    private sealed class States
    {
        public Dictionary<string, Folded<AccountState>> Accounts { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Folded<PaymentState>> Payments { get; } = new(StringComparer.Ordinal);

        // How each stream's part of the append is guarded on the state the batch started from (Folded.Then), and how the
        // state it leaves there is cached while it commits.
        private readonly Dictionary<string, (Func<IReadOnlyList<EventData>, StreamAppend> Append, Func<Guid, Task<AppendResult>, Task> RememberUnsettled)> starts =
            new(StringComparer.Ordinal);

        /// <summary>A stream's part of the batch's append, guarded by the state the batch started from (<see cref="Folded{TState}.Then"/>).</summary>
        public StreamAppend AppendAfterStart(string stream, IReadOnlyList<EventData> events) => starts[stream].Append(events);

        /// <summary>
        /// Caches the state the append leaves on each stream it writes as soon as it is handed to the store
        /// (<see cref="StreamStates{TEvent, TState}.RememberUnsettled"/>); completes once the cache has taken its outcome in.
        /// </summary>
        public Task RememberUnsettled(IReadOnlyList<StreamAppend> parts, Task<AppendResult> append) =>
            Task.WhenAll(parts.Select(part => starts[part.StreamId].RememberUnsettled(part.Events[^1].EventId, append)));

        public long VersionOf(string stream) => Accounts.TryGetValue(stream, out var a) ? a.Version : Payments[stream].Version;

        public static States Cached(
            IReadOnlyList<BatchItem> commands, StreamStates<AccountEvent, AccountState> accounts, StreamStates<PaymentEvent, PaymentState> payments)
        {
            var states = new States();
            foreach (var (stream, isPayment) in Streams(commands))
                if (isPayment) states.Start(states.Payments, payments, stream, payments.CachedOrEmpty(stream));
                else states.Start(states.Accounts, accounts, stream, accounts.CachedOrEmpty(stream));
            return states;
        }

        public static async Task<States> FreshAsync(
            IReadOnlyList<BatchItem> commands, StreamStates<AccountEvent, AccountState> accounts, StreamStates<PaymentEvent, PaymentState> payments,
            CancellationToken ct)
        {
            var states = new States();
            foreach (var (stream, isPayment) in Streams(commands))
                if (isPayment) states.Start(states.Payments, payments, stream, await payments.FreshAsync(stream, ct));
                else states.Start(states.Accounts, accounts, stream, await accounts.FreshAsync(stream, ct));
            return states;
        }

        private void Start<TEvent, T>(Dictionary<string, Folded<T>> into, StreamStates<TEvent, T> cache, string stream, Folded<T> folded)
            where TEvent : class
        {
            into[stream] = folded;
            starts[stream] = (events => folded.Then(stream, events), (last, append) => cache.RememberUnsettled(stream, folded, into[stream], last, append));
        }

        private static IEnumerable<(string Stream, bool IsPayment)> Streams(IReadOnlyList<BatchItem> commands) =>
            commands.SelectMany(c => c switch
            {
                BatchItem.ToAccount a => [(Account.StreamId(a.AccountId), false)],
                BatchItem.Transfer t => new[]
                {
                    (Payment.StreamId(t.Command.PaymentId), true), (Account.StreamId(t.Command.FromAccountId), false),
                    (Account.StreamId(t.Command.ToAccountId), false),
                },
                _ => throw new ArgumentOutOfRangeException(nameof(commands), c, null),
            }).Distinct();
    }
}
