namespace GrpcBank.Application.Commands;

/// <summary>Runs one aggregate's commands (see <see cref="CommandHandler{TCommand,TEvent,TState}"/>).</summary>
public interface ICommandHandler<TCommand, TState>
{
    /// <param name="reply">What to answer if the command is accepted; computed once and stored for retries.</param>
    /// <param name="expectedVersion">The version the caller saw, when it wants the command only on that version.</param>
    Task<CommandOutcome<TReply>> HandleAsync<TReply>(
        string aggregateId, TCommand command, CommandContext context, ReplyWith<TState, TReply> reply, CancellationToken ct,
        long? expectedVersion = null);
}
