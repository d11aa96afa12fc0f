using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using LanguageExt;

namespace GrpcBank.Application.Commands;

/// <summary>
/// Runs one aggregate's commands: load → fold → decide → append with the expected version, retrying a
/// bounded number of times when another writer wins. A rejected or failed command writes nothing.
/// </summary>
public sealed class CommandHandler<TCommand, TEvent, TState>(
    IEventStore store,
    Decider<TCommand, TEvent, TState> decider,
    EventCodec<TEvent> codec,
    Func<string, string> streamIdOf,
    Func<TState, long?> replyBalance,
    TimeProvider clock,
    StreamLocks locks)
    where TEvent : class
{
    private const int MaxAttempts = 5;
    private const int ReadPage = 1_000;

    private readonly StateCache<TState> cache = new();

    /// <summary>The aggregate's name in telemetry: "account" for <c>AccountState</c>.</summary>
    private static readonly string AggregateName = typeof(TState).Name.Replace("State", "").ToLowerInvariant();

    /// <summary>Handles one command inside a span that names it and its outcome, and counts it.</summary>
    public async Task<CommandOutcome> HandleAsync(
        string aggregateId, TCommand command, CommandContext context, CancellationToken ct, long? expectedVersion = null)
    {
        var commandType = command?.GetType().Name ?? typeof(TCommand).Name;
        using var activity = Telemetry.Source.StartActivity($"{AggregateName} {commandType}");
        activity?.SetTag("grpcbank.aggregate", AggregateName);
        activity?.SetTag("grpcbank.command", commandType);
        activity?.SetTag("grpcbank.aggregate_id", aggregateId);
        if (context.RequestId is { } requestId) activity?.SetTag("grpcbank.request_id", requestId);
        try
        {
            var outcome = await HandleInSpanAsync(aggregateId, command, context, activity, ct, expectedVersion);
            var (name, reason) = outcome switch
            {
                CommandOutcome.Accepted => ("accepted", null),
                CommandOutcome.Rejected r => ("rejected", r.Rejection.Reason),
                CommandOutcome.WrongExpectedVersion => ("conflict", null),
                CommandOutcome.RequestIdReused => ("request_id_reused", null),
                _ => ("other", (string?)null),
            };
            activity?.SetTag("grpcbank.outcome", name);
            if (reason is not null) activity?.SetTag("grpcbank.rejection", reason);
            Telemetry.Commands.Add(1, new("aggregate", AggregateName), new("command", commandType), new("outcome", name));
            return outcome;
        }
        catch (Exception e)
        {
            activity.Failed(e);
            Telemetry.Commands.Add(1, new("aggregate", AggregateName), new("command", commandType), new("outcome", "error"));
            throw;
        }
    }

    /// <remarks>
    /// The happy path costs one round trip: the decision is made on the cached fold of this stream and the append's
    /// expected-version check catches any writer the cache missed. Only an answer that writes nothing (a rejection or a
    /// no-op) is re-checked against a fresh read, and against the request log, so it is never based on stale state and
    /// a retried request gets its first reply. A retry that would write is stopped by the request log's unique key.
    /// </remarks>
    private async Task<CommandOutcome> HandleInSpanAsync(
        string aggregateId, TCommand command, CommandContext context, Activity? activity, CancellationToken ct, long? expectedVersion)
    {
        var streamId = streamIdOf(aggregateId);
        using var _ = await locks.AcquireAsync(streamId, ct);
        var cached = cache.Get(streamId);
        var fresh = cached is null;
        var current = cached ?? await LoadStreamAsync(streamId, ct);
        for (var attempt = 1; ; attempt++)
        {
            activity?.SetTag("grpcbank.retries", attempt - 1);
            var versionMatches = expectedVersion is not { } wanted || wanted == current.Version;
            var decision = decider.Decide(command, current.State);
            var events = decision.IsRight ? decision.RightToSeq().Head() : Seq<TEvent>.Empty;
            var writes = versionMatches && !events.IsEmpty;
            if (!writes && !fresh)
            {
                current = await LoadStreamAsync(streamId, ct);
                fresh = true;
                continue;
            }
            if (!writes)
            {
                if (await ReplayAsync(context, ct) is { } replayed) return replayed;
                if (!versionMatches) return new CommandOutcome.WrongExpectedVersion(expectedVersion!.Value, current.Version);
                return decision.IsLeft
                    ? new CommandOutcome.Rejected(decision.LeftToSeq().Head())
                    : new CommandOutcome.Accepted(Reply(aggregateId, current));
            }

            var next = new Folded<TState>(events.Fold(current.State, decider.Evolve), current.Version + events.Count, 0);
            var reply = Reply(aggregateId, next);
            var append = new AppendRequest(
                streamId,
                current.Version,
                events.Map(e => ToEventData(e, context)).ToList(),
                context.RequestId is { } id ? new RequestLogEntry(id, context.Fingerprint ?? "", ReplyJson(reply)) : null,
                clock.GetUtcNow());

            switch (await AppendAsync(append, ct))
            {
                case AppendResult.Appended a:
                    cache.Put(streamId, next with { Position = a.Position });
                    return new CommandOutcome.Accepted(reply with { Position = a.Position });
                case AppendResult.DuplicateRequest:
                    return await ReplayAsync(context, ct)
                        ?? throw new InvalidOperationException("request log entry vanished after a duplicate-key conflict");
                case AppendResult.WrongExpectedVersion when attempt == MaxAttempts:
                    return new CommandOutcome.WrongExpectedVersion(expectedVersion ?? current.Version, (await LoadStreamAsync(streamId, ct)).Version);
                case AppendResult.WrongExpectedVersion:
                    // Another writer got there first: look again (an expected_version from the caller is re-checked).
                    current = await LoadStreamAsync(streamId, ct);
                    fresh = true;
                    continue;
            }
        }
    }

    /// <summary>Appends inside its own span and times it.</summary>
    private async Task<AppendResult> AppendAsync(AppendRequest append, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity("event store append");
        activity?.SetTag("grpcbank.stream_id", append.Streams[0].StreamId);
        activity?.SetTag("grpcbank.event_count", append.Streams[0].Events.Count);
        activity?.SetTag("grpcbank.expected_version", append.Streams[0].ExpectedVersion);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await store.AppendAsync(append, ct);
            var name = result switch
            {
                AppendResult.Appended => "appended",
                AppendResult.WrongExpectedVersion => "conflict",
                _ => "duplicate_request",
            };
            Telemetry.AppendDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, new KeyValuePair<string, object?>("result", name));
            activity?.SetTag("grpcbank.append_result", name);
            if (result is AppendResult.Appended a)
            {
                activity?.SetTag("grpcbank.position", a.Position);
                activity?.SetTag("grpcbank.stream_version", a.Version);
            }
            return result;
        }
        catch (Exception e)
        {
            Telemetry.AppendDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, new KeyValuePair<string, object?>("result", "error"));
            activity.Failed(e);
            throw;
        }
    }

    /// <summary>The state of a stream: the cached fold plus whatever was appended since.</summary>
    public Task<Folded<TState>> LoadAsync(string aggregateId, CancellationToken ct) => LoadStreamAsync(streamIdOf(aggregateId), ct);

    private async Task<Folded<TState>> LoadStreamAsync(string streamId, CancellationToken ct)
    {
        var folded = cache.Get(streamId) ?? new Folded<TState>(decider.Initial, 0, 0);
        while (true)
        {
            var page = await store.ReadStreamAsync(streamId, folded.Version + 1, ReadPage, ct);
            if (page.Count == 0) break;
            var state = page.Aggregate(folded.State, (s, e) => decider.Evolve(s, codec.Decode(e)));
            folded = new Folded<TState>(state, page[^1].StreamVersion, page[^1].Position);
            if (page.Count < ReadPage) break;
        }
        cache.Put(streamId, folded);
        return folded;
    }

    private async Task<CommandOutcome?> ReplayAsync(CommandContext context, CancellationToken ct)
    {
        if (context.RequestId is not { } id) return null;
        var logged = await store.FindRequestAsync(id, ct);
        if (logged is null) return null;
        if (logged.Fingerprint != (context.Fingerprint ?? "")) return new CommandOutcome.RequestIdReused(id);
        var reply = System.Text.Json.JsonSerializer.Deserialize<CommandReply>(logged.ReplyJson, EventCodec<TEvent>.Json)
            ?? throw new InvalidDataException($"request log entry {id} has no reply");
        Activity.Current?.SetTag("grpcbank.replayed", true);
        return new CommandOutcome.Accepted(reply with { Position = logged.Position });
    }

    private CommandReply Reply(string aggregateId, Folded<TState> f) =>
        new(aggregateId, f.Version, f.Position, replyBalance(f.State));

    private static string ReplyJson(CommandReply reply) =>
        System.Text.Json.JsonSerializer.Serialize(reply, EventCodec<TEvent>.Json);

    private EventData ToEventData(TEvent e, CommandContext context)
    {
        var (type, json) = codec.Encode(e);
        return new EventData(Guid.CreateVersion7(), type, json, context.MetadataJson());
    }
}
