using System.Reflection;

namespace GrpcBank.Domain.Tests;

/// <summary>The "Given" of a Given/When/Then case: a decider and the history of its stream.</summary>
public sealed record DeciderSpec<TCommand, TEvent, TState>(
    Decider<TCommand, TEvent, TState> Decider,
    Func<TEvent, string> StorageName,
    IReadOnlyList<TEvent> History)
    where TCommand : notnull
    where TEvent : notnull
{
    public DeciderCase<TCommand, TEvent, TState> When(TCommand command) => new(this, command);
}

/// <summary>The "When" of a case; <see cref="Then"/> decides and writes the whole case out for a snapshot.</summary>
public sealed record DeciderCase<TCommand, TEvent, TState>(DeciderSpec<TCommand, TEvent, TState> Given, TCommand Command)
    where TCommand : notnull
    where TEvent : notnull
{
    public SpecOutcome Then()
    {
        var state = Given.Decider.Fold(Given.History);
        var decision = Given.Decider.Decide(Command, state);
        return new SpecOutcome(
            Given.History.Select(Describe).ToList(),
            new Described(Command.GetType().Name, Command),
            decision.Match<object>(
                // Evolve is checked too: the state the new events lead to is part of the snapshot.
                Right: events => new Accepted(events.Select(Describe).ToList(), events.Fold(state, Given.Decider.Evolve)),
                Left: Rejected.Of));
    }

    // Events are named by their storage name, so a snapshot also guards the storage contract.
    private Described Describe(TEvent e) => new(Given.StorageName(e), e);
}

/// <summary>A whole case as data. Snapshooter serialises with Newtonsoft, so every value carries its type name explicitly.</summary>
public sealed record SpecOutcome(IReadOnlyList<Described> Given, Described When, object Then);

/// <summary>A command or event: its name and its fields.</summary>
public sealed record Described(string Type, object Data);

/// <summary>The decider accepted the command; an empty list means it changed nothing. <see cref="StateAfter"/> is the fold of the new events.</summary>
public sealed record Accepted(IReadOnlyList<Described> Events, object? StateAfter)
{
    public string Outcome => nameof(Accepted);
}

/// <summary>The decider refused the command: the rejection's type and its fields.</summary>
public sealed record Rejected(string Type, IReadOnlyDictionary<string, object?> Data)
{
    public string Outcome => nameof(Rejected);

    public static Rejected Of(Rejection rejection) => new(rejection.GetType().Name, FieldsOf(rejection));

    // The rejection's own fields (how a client sees it is the edge's business, not the decider's).
    private static IReadOnlyDictionary<string, object?> FieldsOf(Rejection rejection) =>
        rejection.GetType()
            .GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .ToDictionary(p => p.Name, p => p.GetValue(rejection));
}

/// <summary>Names events by their storage names, inverting the bounded contexts' name → type tables.</summary>
public static class StorageNames
{
    public static Func<object, string> From(params IReadOnlyDictionary<string, Type>[] tables)
    {
        var names = tables.SelectMany(table => table).ToDictionary(entry => entry.Value, entry => entry.Key);
        return e => names[e.GetType()];
    }
}
