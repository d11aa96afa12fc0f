using GrpcBank.Application.Relay;
using GrpcBank.Bus.RabbitMq;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// The event bus, on only when <c>Bus:RabbitMq:Url</c> is set (the embedded default needs no broker): one more relay
/// consumer. The broker is not contacted here — a server whose broker is down still starts and serves; the bus
/// connects, and catches up, when it can.
/// </summary>
public static class EventBus
{
    public static void AddEventBus(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration["Bus:RabbitMq:Url"] is not { Length: > 0 } url) return;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps"))
            throw new StartupRefusedException($"Bus:RabbitMq:Url must be an amqp:// or amqps:// URL (amqp://user:password@host:5672/vhost), not '{Setting.WithoutCredentials(url)}'");
        var source = configuration["Bus:Source"] is { Length: > 0 } s ? s : RabbitMqBusOptions.DefaultSource;
        // CloudEvents' source is an RFC 3986 URI reference: .NET's Uri alone also takes spaces and other characters one may not hold.
        if (!Uri.IsWellFormedUriString(source, UriKind.RelativeOrAbsolute) || !Uri.TryCreate(source, UriKind.RelativeOrAbsolute, out var sourceUri))
            throw new StartupRefusedException($"Bus:Source must be a URI reference (e.g. 'grpcbank' or 'urn:bank:eu-1'), not '{source}'");
        var options = new RabbitMqBusOptions(uri)
        {
            Exchange = configuration["Bus:RabbitMq:Exchange"] is { Length: > 0 } exchange ? exchange : RabbitMqBusOptions.DefaultExchange,
            Source = sourceUri,
            EventTypePrefixes = EventTypePrefixes(configuration.GetSection("Bus:RabbitMq:EventTypePrefixes")),
        };
        services.AddSingleton(options);
        services.AddSingleton<RabbitMqBusSink>();
        services.AddSingleton<IEventSink>(sp => sp.GetRequiredService<RabbitMqBusSink>());
    }

    /// <summary>
    /// <c>Bus:RabbitMq:EventTypePrefixes</c> as a list (<c>…:0</c>, <c>…:1</c>; a JSON array in appsettings) or as one
    /// comma-separated value (<c>Bus__RabbitMq__EventTypePrefixes=accounts.,payments.</c>).
    /// </summary>
    private static string[] EventTypePrefixes(IConfigurationSection section) =>
        [.. (section.Value is { Length: > 0 } single ? [single] : section.GetChildren().Select(c => c.Value ?? ""))
            .SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)];
}
