using System.Text.Json;

namespace GrpcBank.Application.EventStore;

/// <summary>Turns events into their stored form and back, by their explicit storage names.</summary>
public sealed class EventCodec<TEvent> where TEvent : class
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly IReadOnlyDictionary<string, Type> byName;
    private readonly Dictionary<Type, string> byType;

    public EventCodec(IReadOnlyDictionary<string, Type> byName)
    {
        this.byName = byName;
        byType = byName.ToDictionary(kv => kv.Value, kv => kv.Key);
    }

    public bool Knows(string eventType) => byName.ContainsKey(eventType);

    public (string EventType, string DataJson) Encode(TEvent e) =>
        byType.TryGetValue(e.GetType(), out var name)
            ? (name, JsonSerializer.Serialize(e, e.GetType(), Json))
            : throw new InvalidOperationException($"{e.GetType().Name} has no storage name");

    public TEvent Decode(string eventType, string dataJson) =>
        byName.TryGetValue(eventType, out var type)
            ? (TEvent)(JsonSerializer.Deserialize(dataJson, type, Json)
                ?? throw new InvalidDataException($"event of type {eventType} has an empty payload"))
            : throw new InvalidDataException($"unknown event type {eventType}");

    public TEvent Decode(RecordedEvent e) => Decode(e.EventType, e.DataJson);
}
