using System.Text.Json;
using GrpcBank.Application.EventStore;

namespace GrpcBank.Application.Commands;

/// <summary>
/// The request log as commands use it: the reply logged with an append, and the answer to a request id seen before.
/// A command accepted without writing (a no-op) is logged too, so that its id is spent like any other's: a retry gets
/// its first reply even after the state has moved on, and another command with the id is refused. A rejection leaves
/// no entry (it writes nothing), so its retry is decided afresh.
/// </summary>
public static class RequestLog
{
    private static JsonSerializerOptions Json => EventCodec<object>.Json;

    /// <summary>The entry to write in the append's transaction, when the caller gave a request id.</summary>
    public static RequestLogEntry? EntryFor<TReply>(CommandContext context, TReply reply) =>
        context.RequestId is { } id ? new RequestLogEntry(id, context.Fingerprint ?? "", JsonSerializer.Serialize(reply, Json)) : null;

    /// <summary>
    /// A command accepted without an event to write: its reply, once its request id (if any) is logged at
    /// <paramref name="position"/>; or, when another call logged the id first, what that id answers.
    /// </summary>
    public static async Task<CommandOutcome<TReply>> AcceptUnwrittenAsync<TReply>(
        IEventStore store, CommandContext context, TReply reply, long position, CancellationToken ct)
    {
        if (EntryFor(context, reply) is { } entry && !await store.LogRequestAsync(entry, position, ct))
            return await ReplayAsync<TReply>(store, context, ct) ?? throw new InvalidOperationException($"request {entry.RequestId} is logged, yet not found");
        return new CommandOutcome<TReply>.Accepted(reply, position);
    }

    /// <summary>
    /// What a request id logged before answers: the first reply with the position of its append when the request is
    /// the same, <c>RequestIdReused</c> when it is another; null when the id is new (or there is none).
    /// </summary>
    public static async Task<CommandOutcome<TReply>?> ReplayAsync<TReply>(IEventStore store, CommandContext context, CancellationToken ct)
    {
        if (context.RequestId is not { } id) return null;
        var logged = await store.FindRequestAsync(id, ct);
        if (logged is null) return null;
        if (!IsSameRequest(logged, context)) return new CommandOutcome<TReply>.RequestIdReused(id);
        var reply = JsonSerializer.Deserialize<TReply>(logged.ReplyJson, Json)
            ?? throw new InvalidDataException($"request log entry {id} has no reply");
        return new CommandOutcome<TReply>.Accepted(reply, logged.Position, Replayed: true);
    }

    /// <summary>The entries logged for the request ids of <paramref name="commands"/>, in one lookup: null for one without an id or not logged.</summary>
    public static async Task<IReadOnlyList<LoggedRequest?>> FindAllAsync(IEventStore store, IReadOnlyList<BatchItem> commands, CancellationToken ct)
    {
        var asking = Enumerable.Range(0, commands.Count).Where(i => commands[i].Context.RequestId is not null).ToList();
        var found = new LoggedRequest?[commands.Count];
        if (asking.Count == 0) return found;
        var logged = await store.FindRequestsAsync([.. asking.Select(i => commands[i].Context.RequestId!)], ct);
        for (var k = 0; k < asking.Count; k++) found[asking[k]] = logged[k];
        return found;
    }

    /// <summary><see cref="ReplayAsync"/> for a batch's command, whose reply type is a value (<see cref="BatchItem.ReplyType"/>).</summary>
    public static CommandOutcome<object> Replay(LoggedRequest logged, BatchItem command) =>
        IsSameRequest(logged, command.Context)
            ? new CommandOutcome<object>.Accepted(ReplyOf(logged, command), logged.Position, Replayed: true)
            : new CommandOutcome<object>.RequestIdReused(logged.RequestId);

    /// <summary>Whether <paramref name="logged"/> is this very request (its fingerprint), not another one with its id.</summary>
    public static bool IsSameRequest(LoggedRequest logged, CommandContext context) => logged.Fingerprint == (context.Fingerprint ?? "");

    /// <summary>The reply logged for <paramref name="command"/>'s first run.</summary>
    public static object ReplyOf(LoggedRequest logged, BatchItem command) =>
        JsonSerializer.Deserialize(logged.ReplyJson, command.ReplyType, Json)
        ?? throw new InvalidDataException($"request log entry {logged.RequestId} has no reply");
}
