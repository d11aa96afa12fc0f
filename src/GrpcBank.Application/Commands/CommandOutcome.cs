using GrpcBank.Domain;

namespace GrpcBank.Application.Commands;

/// <summary>The answer to a command: what the client is told, as a value.</summary>
/// <typeparam name="TReply">What the caller asked to be told about an accepted command (see <see cref="ReplyWith{TState,TReply}"/>).</typeparam>
public abstract record CommandOutcome<TReply>
{
    private CommandOutcome() { }

    /// <param name="Position">
    /// The consistency token: the global position of the last event the command wrote (of its first run, when replayed),
    /// or of the stream's last event when it wrote nothing.
    /// </param>
    /// <param name="Replayed">The reply is the one logged for this request id the first time; nothing was written now.</param>
    public sealed record Accepted(TReply Reply, long Position, bool Replayed = false) : CommandOutcome<TReply>;

    public sealed record Rejected(Rejection Rejection) : CommandOutcome<TReply>;

    /// <summary>The stream was not at the version the caller (or every retry) expected.</summary>
    public sealed record WrongExpectedVersion(long ExpectedVersion, long ActualVersion) : CommandOutcome<TReply>;

    /// <summary>
    /// The idempotency key was already used for a different request; or, with <paramref name="AlreadyDone"/>, for this
    /// very command, in an atomic batch whose other commands are new (it can neither be written again nor replayed alone).
    /// </summary>
    public sealed record RequestIdReused(string RequestId, bool AlreadyDone = false) : CommandOutcome<TReply>;
}

/// <summary>
/// Builds the reply to an accepted command from the stream's state and version after it. The reply is stored in the
/// request log (as JSON) in the append's transaction and replayed verbatim on a retry, so its property names are a
/// storage format: add properties, never rename them.
/// </summary>
public delegate TReply ReplyWith<in TState, out TReply>(TState state, long version);

/// <summary>The reply every command can give: the aggregate it ran on (an assigned id included) and the version it left.</summary>
public sealed record StreamReply(string AggregateId, long Version)
{
    public static ReplyWith<TState, StreamReply> For<TState>(string aggregateId) => (_, version) => new(aggregateId, version);
}
