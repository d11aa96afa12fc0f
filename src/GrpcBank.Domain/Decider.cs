using LanguageExt;

namespace GrpcBank.Domain;

/// <summary>An aggregate as a pure pair: decide what happens, evolve the state by what happened.</summary>
public sealed record Decider<TCommand, TEvent, TState>(
    TState Initial,
    Func<TCommand, TState, Either<Rejection, Seq<TEvent>>> Decide,
    Func<TState, TEvent, TState> Evolve)
{
    public TState Fold(IEnumerable<TEvent> events) => events.Aggregate(Initial, Evolve);
}
