using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Payments;
using LanguageExt;

namespace GrpcBank.Application.Commands;

/// <summary>One command of a batch, decided: its events stream by stream, and its reply.</summary>
internal sealed record DecidedItem(IReadOnlyList<(string Stream, IReadOnlyList<EventData> Events)> Parts, object Reply);

/// <summary>
/// The folds of every stream a batch touches (<see cref="AtomicBatch"/>, <see cref="IndependentBatch"/>), moved forward
/// command by command as the batch is decided; how each stream's writes are guarded, and how the states they leave are
/// cached while they commit.
/// </summary>
internal sealed class BatchStates
{
    private readonly Dictionary<string, Folded<AccountState>> accounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Folded<PaymentState>> payments = new(StringComparer.Ordinal);

    // How a stream's first write of the batch is guarded on the state the batch started from (Folded.Then), and how the
    // state the batch leaves there is cached while it commits.
    private readonly Dictionary<string, (Func<IReadOnlyList<EventData>, StreamAppend> Append, Func<Guid, Task<AppendResult>, Task> RememberUnsettled)> starts =
        new(StringComparer.Ordinal);

    // The version and last event the batch's writes so far leave on each stream it has written.
    private readonly Dictionary<string, (long Version, Guid LastEventId)> written = new(StringComparer.Ordinal);

    /// <summary>The streams a command of a batch decides on (and, when accepted, writes).</summary>
    public static IEnumerable<string> StreamsOf(BatchItem command) => Streams([command]).Select(s => s.Stream);

    /// <summary>
    /// Decides <paramref name="command"/> on the states the commands decided before it leave, and moves them past it when
    /// it is accepted; a rejection leaves them as they were.
    /// </summary>
    public Either<Rejection, DecidedItem> Decide(BatchItem command)
    {
        switch (command)
        {
            case BatchItem.ToAccount c:
            {
                var stream = Account.StreamId(c.AccountId);
                var decision = Account.Decider.Decide(c.Command, accounts[stream].State);
                if (decision.IsLeft) return decision.LeftToSeq().Head;
                var decided = decision.RightToSeq().Head;
                var next = accounts[stream] = Next(accounts[stream], decided, Account.Evolve);
                return new DecidedItem([.. Encoded(stream, decided, EventCodecs.Accounts, c.Context.MetadataJson())], c.Reply(next.State, next.Version));
            }
            case BatchItem.Transfer c:
            {
                var (paymentStream, payerStream, payeeStream) =
                    (Payment.StreamId(c.Command.PaymentId), Account.StreamId(c.Command.FromAccountId), Account.StreamId(c.Command.ToAccountId));
                var decision = Domain.Payments.Transfer.Decide(
                    c.Command, payments[paymentStream].State, accounts[payerStream].State, accounts[payeeStream].State);
                if (decision.IsLeft) return decision.LeftToSeq().Head;
                var decided = decision.RightToSeq().Head;
                var payment = payments[paymentStream] = Next(payments[paymentStream], decided.Payment, Payment.Evolve);
                accounts[payerStream] = Next(accounts[payerStream], decided.Payer, Account.Evolve);
                accounts[payeeStream] = Next(accounts[payeeStream], decided.Payee, Account.Evolve);
                var metadata = c.Context.MetadataJson();
                return new DecidedItem(
                    [.. Encoded(paymentStream, decided.Payment, EventCodecs.Payments, metadata),
                        .. Encoded(payerStream, decided.Payer, EventCodecs.Accounts, metadata),
                        .. Encoded(payeeStream, decided.Payee, EventCodecs.Accounts, metadata)],
                    c.Reply(payment.State, payment.Version));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(command), command, null);
        }
    }

    /// <summary>
    /// A write of <paramref name="events"/> to <paramref name="stream"/>, guarded by the batch's last write there (its
    /// version and last event), or by the state the batch started from (<see cref="Folded{TState}.Then"/>) for the first.
    /// </summary>
    public StreamAppend Append(string stream, IReadOnlyList<EventData> events)
    {
        var part = written.TryGetValue(stream, out var last)
            ? new StreamAppend(stream, last.Version, events) { ExpectedLastEventId = last.LastEventId }
            : starts[stream].Append(events);
        written[stream] = (part.ExpectedVersion + events.Count, events[^1].EventId);
        return part;
    }

    /// <summary>
    /// Caches the state the batch leaves on each stream it has written, guarded by its last write there, as soon as that
    /// write is handed to the store (<see cref="StreamStates{TEvent, TState}.RememberUnsettled"/>): <paramref name="lastWriteOf"/>
    /// gives the append holding a stream's last write. Completes once the cache has taken every outcome in.
    /// </summary>
    public Task RememberUnsettled(Func<string, Task<AppendResult>> lastWriteOf) =>
        Task.WhenAll(written.Select(w => starts[w.Key].RememberUnsettled(w.Value.LastEventId, lastWriteOf(w.Key))));

    public long VersionOf(string stream) => accounts.TryGetValue(stream, out var a) ? a.Version : payments[stream].Version;

    public static BatchStates Cached(
        IReadOnlyList<BatchItem> commands, StreamStates<AccountEvent, AccountState> accounts, StreamStates<PaymentEvent, PaymentState> payments)
    {
        var states = new BatchStates();
        foreach (var (stream, isPayment) in Streams(commands))
            if (isPayment) states.Start(states.payments, payments, stream, payments.CachedOrEmpty(stream));
            else states.Start(states.accounts, accounts, stream, accounts.CachedOrEmpty(stream));
        return states;
    }

    public static async Task<BatchStates> FreshAsync(
        IReadOnlyList<BatchItem> commands, StreamStates<AccountEvent, AccountState> accounts, StreamStates<PaymentEvent, PaymentState> payments,
        CancellationToken ct)
    {
        var states = new BatchStates();
        foreach (var (stream, isPayment) in Streams(commands))
            if (isPayment) states.Start(states.payments, payments, stream, await payments.FreshAsync(stream, ct));
            else states.Start(states.accounts, accounts, stream, await accounts.FreshAsync(stream, ct));
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

    private static Folded<T> Next<T, TEvent>(Folded<T> f, Seq<TEvent> events, Func<T, TEvent, T> evolve) =>
        events.IsEmpty ? f : new Folded<T>(events.Fold(f.State, evolve), f.Version + events.Count, f.Position);

    /// <summary>A stream's part of a decided command, in stored form; none when the command writes nothing there.</summary>
    private static IEnumerable<(string Stream, IReadOnlyList<EventData> Events)> Encoded<TEvent>(
        string stream, Seq<TEvent> events, EventCodec<TEvent> codec, string metadata) where TEvent : class
    {
        if (events.IsEmpty) yield break;
        yield return (stream, [.. events.Map(e => codec.ToEventData(e, metadata))]);
    }
}
