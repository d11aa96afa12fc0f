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
        if (logged.Fingerprint != (context.Fingerprint ?? "")) return new CommandOutcome<TReply>.RequestIdReused(id);
        var reply = JsonSerializer.Deserialize<TReply>(logged.ReplyJson, Json)
            ?? throw new InvalidDataException($"request log entry {id} has no reply");
        return new CommandOutcome<TReply>.Accepted(reply, logged.Position, Replayed: true);
    }
}
