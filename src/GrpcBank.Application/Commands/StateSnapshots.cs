using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Commands;

/// <summary>
/// One state type's snapshots: saved in the background, best effort, and loaded only under the state's current
/// schema. A snapshot that cannot be read or written is logged and ignored; the fold from the events is the answer.
/// </summary>
/// <param name="every">The least interval in versions between snapshots (<see cref="StreamStates.SnapshotEvery"/>).</param>
public sealed class StateSnapshots<TState>(ISnapshotStore store, ILogger log, int every = StreamStates.SnapshotEvery)
{
    // The bank's states are serialised by generated code: no reflection warm-up on a restarted server's first command.
    private static readonly JsonTypeInfo<TState> Json = SnapshotJson.Default.GetTypeInfo(typeof(TState)) as JsonTypeInfo<TState>
        ?? (JsonTypeInfo<TState>)SnapshotJson.Reflection.GetTypeInfo(typeof(TState));

    // Only the streams whose last snapshot (written or read) is too large for the least interval: the rest need nothing here.
    private readonly ConcurrentDictionary<string, Spaced> large = new();

    /// <summary>The newest snapshot at or below <paramref name="maxVersion"/> under the current schema; null if none can be used.</summary>
    public async Task<Folded<TState>?> LoadAsync(string streamId, long maxVersion, CancellationToken ct)
    {
        try
        {
            if (await store.LoadAsync(streamId, SnapshotSchema<TState>.Name, maxVersion, ct) is not { } snapshot) return null;
            var state = JsonSerializer.Deserialize<TState>(snapshot.StateJson, Json)
                ?? throw new JsonException("the snapshot holds null");
            Sized(streamId, snapshot.Version, snapshot.StateJson.Length);
            return new Folded<TState>(state, snapshot.Version, snapshot.Position);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            log.LogWarning(e, "Ignoring the snapshot of {StreamId}; folding from the first event", streamId);
            return null;
        }
    }

    /// <summary>
    /// Saves the fold in the background when it passed the stream's next snapshot since <paramref name="fromVersion"/>
    /// (<see cref="Due"/>); the caller never waits for it and never sees it fail.
    /// </summary>
    public void SaveIfPassed(string streamId, long fromVersion, Folded<TState> folded)
    {
        if (!Due(streamId, fromVersion, folded.Version)) return;
        _ = Task.Run(async () =>
        {
            try
            {
                var json = JsonSerializer.Serialize(folded.State, Json);
                // Before the write: a command committed meanwhile must already count from this snapshot.
                Sized(streamId, folded.Version, json.Length);
                await store.SaveAsync(new Snapshot(streamId, folded.Version, folded.Position, SnapshotSchema<TState>.Name, json),
                    CancellationToken.None);
            }
            catch (Exception e)
            {
                log.LogWarning(e, "Could not save the snapshot of {StreamId} at version {Version}", streamId, folded.Version);
            }
        });
    }

    /// <summary>
    /// Whether a fold from <paramref name="fromVersion"/> to <paramref name="toVersion"/> passed the stream's next
    /// snapshot: a multiple of <c>every</c>, or, after a snapshot larger than <c>every</c> versions' budget
    /// (<see cref="StreamStates.SnapshotCharsPerVersion"/>), as many versions after it as keep within the budget.
    /// Each is saved once, by the append that passed it.
    /// </summary>
    private bool Due(string streamId, long fromVersion, long toVersion)
    {
        if (!large.TryGetValue(streamId, out var last)) return toVersion / every > fromVersion / every;
        // Overdue counts too: another process's appends, followed, may have passed it. Taken at once, so no append resting
        // on this one (folded before this one's save is serialised and sized) saves it again.
        return toVersion >= last.Version + last.Interval && large.TryUpdate(streamId, last with { Version = toVersion }, last);
    }

    // Every stream's state written or read at the newest version seen; an older one (a save overtaken) changes nothing.
    private void Sized(string streamId, long version, int chars)
    {
        var interval = Math.Max(every, (chars + StreamStates.SnapshotCharsPerVersion - 1) / StreamStates.SnapshotCharsPerVersion);
        if (interval == every)
        {
            if (large.TryGetValue(streamId, out var seen) && seen.Version <= version) large.TryRemove(KeyValuePair.Create(streamId, seen));
            return;
        }
        large.AddOrUpdate(streamId, new Spaced(version, interval), (_, seen) => seen.Version > version ? seen : new Spaced(version, interval));
    }

    private sealed record Spaced(long Version, int Interval);

    /// <summary>The state as a snapshot stores it (for tests of the round trip).</summary>
    public static string Serialize(TState state) => JsonSerializer.Serialize(state, Json);

    public static TState? Deserialize(string json) => JsonSerializer.Deserialize<TState>(json, Json);
}

/// <summary>How states are written into snapshots: enum members by name (reordering an enum cannot change what a stored
/// snapshot means), computed properties (<c>PaymentState.Movement</c>) left out, an account's holds compact.</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, IgnoreReadOnlyProperties = true, Converters = [typeof(CompactHolds)])]
[JsonSerializable(typeof(AccountState))]
[JsonSerializable(typeof(OrderState))]
[JsonSerializable(typeof(PaymentState))]
internal sealed partial class SnapshotJson : JsonSerializerContext
{
    /// <summary>The same settings by reflection, for a state type not listed above.</summary>
    public static readonly JsonSerializerOptions Reflection = new()
    {
        Converters = { new JsonStringEnumConverter() },
        IgnoreReadOnlyProperties = true,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };
}

/// <summary>
/// The schema a state type's snapshots are written under: its name, its fold version and a fingerprint of its shape.
/// A new field, a renamed one or a new enum member changes the fingerprint by itself; a change to what an
/// <c>Evolve</c> does with the same shape needs its fold version raised here. Either way old snapshots are ignored.
/// </summary>
public static class SnapshotSchema<TState>
{
    public static readonly string Name = $"{typeof(TState).Name}.v{SnapshotSchema.FoldVersion(typeof(TState))}.{SnapshotSchema.Fingerprint(typeof(TState))}";
}

/// <summary>Fold versions per state type, and the shape fingerprint.</summary>
public static class SnapshotSchema
{
    // Raise a state's number when its Evolve changes meaning, or its snapshot's layout changes, without its shape changing.
    private static readonly Dictionary<Type, int> FoldVersions = new()
    {
        [typeof(AccountState)] = 2, // 2: holds written compact (CompactHolds)
        [typeof(OrderState)] = 1,
        [typeof(PaymentState)] = 1,
    };

    public static int FoldVersion(Type state) => FoldVersions.GetValueOrDefault(state, 1);

    /// <summary>A short hash of the stored properties (names and types, nested records, what collections hold and enum members included).</summary>
    public static string Fingerprint(Type state)
    {
        var shape = new StringBuilder();
        Describe(state, shape, []);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(shape.ToString())))[..12];
    }

    // The root type's own name is not part of it: Name carries that. A collection or an optional value (a generic type,
    // an array) is described by its arguments: its own properties (none writable) say nothing of what it holds, and an
    // account's holds changing shape left the fingerprint as it was. A value with no writable properties (a number, a
    // text, a time) is named, or every struct would read alike.
    private static void Describe(Type type, StringBuilder shape, HashSet<Type> seen)
    {
        if (type.IsEnum)
        {
            shape.Append(type.Name).Append('{').AppendJoin(',', Enum.GetNames(type)).Append('}');
            return;
        }
        var arguments = type.IsArray ? [type.GetElementType()!] : type.GetGenericArguments();
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        var generic = arguments.Length > 0;
        if (generic)
        {
            // Namespace and name without the arguments' assembly versions, which move with the runtime.
            shape.Append(type.IsArray ? "[]" : $"{type.Namespace}.{type.Name}").Append('<');
            foreach (var argument in arguments)
            {
                Describe(argument, shape, seen);
                shape.Append(',');
            }
            shape.Append('>');
        }
        if (properties.Count == 0 || !seen.Add(type))
        {
            if (!generic) shape.Append(type.FullName);
            return;
        }
        shape.Append('{');
        foreach (var property in properties)
        {
            shape.Append(property.Name).Append(':');
            Describe(property.PropertyType, shape, seen);
            shape.Append(';');
        }
        shape.Append('}');
    }
}
