using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace GrpcBank.Application.EventStore;

/// <summary>
/// Turns events into their stored form and back, by their explicit storage names. Events are always written in their
/// current shape; one stored in an older shape is upcast on the way in (<see cref="Upcasters"/>).
/// </summary>
public sealed class EventCodec<TEvent> where TEvent : class
{
    /// <summary>Enums are stored by name ("saga", "atomic"), never by number.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    private readonly IReadOnlyDictionary<string, Type> byName;
    private readonly Dictionary<Type, string> byType;
    private readonly Dictionary<string, Upcaster> upcasters;

    public EventCodec(IReadOnlyDictionary<string, Type> byName, IEnumerable<Upcaster> upcasters)
    {
        this.byName = byName;
        byType = byName.ToDictionary(kv => kv.Value, kv => kv.Key);
        this.upcasters = upcasters.ToDictionary(u => u.From, StringComparer.Ordinal);
    }

    /// <summary>Whether this codec reads events stored under that name (in its current shape or an older one).</summary>
    public bool Knows(string eventType) => TypeOf(eventType) is not null;

    /// <summary>The type an event stored under that name decodes to (in its current shape), or null when this codec does not read it.</summary>
    public Type? TypeOf(string eventType) => byName.TryGetValue(CurrentName(eventType), out var type) ? type : null;

    public (string EventType, string DataJson) Encode(TEvent e) =>
        byType.TryGetValue(e.GetType(), out var name)
            ? (name, JsonSerializer.Serialize(e, e.GetType(), Json))
            : throw new InvalidOperationException($"{e.GetType().Name} has no storage name");

    /// <summary>A new event in stored form: its name and JSON, a fresh id (<see cref="EventIds"/>) and the command's metadata.</summary>
    public EventData ToEventData(TEvent e, string metadataJson)
    {
        var (type, json) = Encode(e);
        return new EventData(EventIds.Next(), type, json, metadataJson);
    }

    public TEvent Decode(string eventType, string dataJson)
    {
        if (upcasters.ContainsKey(eventType))
        {
            var json = JsonNode.Parse(dataJson) as JsonObject
                ?? throw new InvalidDataException($"event of type {eventType} is not a JSON object");
            while (upcasters.TryGetValue(eventType, out var upcaster))
            {
                json = upcaster.Rewrite(json);
                eventType = upcaster.To;
            }
            dataJson = json.ToJsonString();
        }
        return byName.TryGetValue(eventType, out var type)
            ? (TEvent)(JsonSerializer.Deserialize(dataJson, type, Json)
                ?? throw new InvalidDataException($"event of type {eventType} has an empty payload"))
            : throw new InvalidDataException($"unknown event type {eventType}");
    }

    public TEvent Decode(RecordedEvent e) => Decode(e.EventType, e.DataJson);

    /// <summary>Builds the JSON metadata of every event type now, rather than on the first event of each type.</summary>
    public void WarmUp()
    {
        // The serializer's first call would add the default (reflection) resolver; do what it does, then ask for each type.
        Json.MakeReadOnly(populateMissingResolver: true);
        foreach (var type in byName.Values) Json.GetTypeInfo(type);
    }

    private string CurrentName(string eventType)
    {
        while (upcasters.TryGetValue(eventType, out var upcaster)) eventType = upcaster.To;
        return eventType;
    }
}
