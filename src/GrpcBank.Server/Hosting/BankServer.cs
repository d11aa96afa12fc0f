using GrpcBank.Application.Accounts;
using GrpcBank.Application.Payments;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Application.Relay;
using GrpcBank.Server.Accounts;
using GrpcBank.Server.Errors;
using GrpcBank.Application.History;
using GrpcBank.Server.Admin;
using GrpcBank.Server.Batch;
using GrpcBank.Server.History;
using GrpcBank.Server.Orders;
using GrpcBank.Server.Payments;
using GrpcBank.Server.Query;
using GrpcBank.Elasticsearch;
using GrpcBank.Postgres;
using GrpcBank.Postgres.ReadStore;
using GrpcBank.Sqlite;
using GrpcBank.Server.Security;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GrpcBank.Server.Hosting;

/// <summary>Composes the server from configuration (ARCHITECTURE.md, "Configuration").</summary>
public static class BankServer
{
    /// <param name="signals">Heard since Program's start; null: from now (a host in a test's process).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null, StopSignals? signals = null)
    {
        signals ??= StopSignals.Register();
        // The application's folder, not the working directory, holds appsettings.json: a server started from anywhere
        // (a service manager, a script) reads the same settings.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        var services = builder.Services;

        builder.ConfigureKestrel();
        // A factory's, so that the container lets the signals go as it is disposed.
        services.AddSingleton(_ => signals);
        services.AddSingleton(sp => SignalLifetime.For(sp, signals));
        // Kestrel parses them only as it starts, after the stores have opened and the relay has begun: an abort with a bare
        // FormatException ("Invalid url") and exit code 134.
        var listenUrls = ListenUrls(builder.Configuration);
        foreach (var url in listenUrls)
            if (KestrelSetup.ListenAddress(url) is null)
                throw new StartupRefusedException($"--urls (or ASPNETCORE_URLS) '{url}' is not a listen address such as http://127.0.0.1:5000");
        builder.AddObservability();
        builder.AddMetricsEndpoint(listenUrls);
        builder.AddJsonApi(listenUrls);
        services.AddGrpc(o =>
        {
            // Outermost first: errors are mapped for everything, then callers are authenticated.
            o.Interceptors.Add<ErrorInterceptor>();
            o.Interceptors.Add<AuthInterceptor>();
            o.MaxReceiveMessageSize = RequestDecoding.MaxMessageBytes;
        }).AddServiceOptions<BatchGrpcService>(o => o.MaxReceiveMessageSize = BatchGrpcService.MaxRequestBytes);
        services.AddSingleton<TransientFaultLog>();
        services.AddSingleton<ApiKeys>();
        services.AddSingleton<RateLimits>();
        services.AddSingleton<Authenticator>();
        services.AddSingleton<ProtectedMode>();
        services.AddHostedService(sp => sp.GetRequiredService<ProtectedMode>());
        services.AddServerReflection();
        // Not serving until the edge warm-up's call is answered: a restarted server's first command is not its first call.
        services.AddSingleton<EdgeWarmUp>();
        services.AddGrpcHealthChecks().AddCheck<EventStoreHealthCheck>("event-store");
        EdgeWarmUp.GatesHealth(services);

        // Tried, so a test host's clock (set by configure, above) wins.
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<StreamLocks>();
        var dataDirectory = AddStorage(services, builder.Configuration, signals.StartUp);
        services.AddSingleton<Handlers>();
        services.AddHostedService(sp => sp.GetRequiredService<Handlers>().OtherWriters);
        // Before the relay and Kestrel: hosted services start in order, and the server listens after all have started.
        services.AddSingleton<CommandPathWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<CommandPathWarmUp>());
        if (ReadStoreKinds.Of(builder.Configuration) == ReadStoreKind.Sqlite) services.AddHostedService<ReadSideWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<EdgeWarmUp>());
        services.AddSingleton<AccountHistory>();
        services.AddSingleton<RelayProgress>();
        // A read store found ahead of the event store at the relay's start is replaced by a rebuild (ReadStoreSink.StartAsync);
        // resolved when needed, for the rebuild feeds through the sink.
        services.AddSingleton(sp => new ReadStoreSink(sp.GetRequiredService<IReadStore>(), sp.GetRequiredService<IEventStore>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ReadStoreSink>>(),
            ct => sp.GetRequiredService<ReadSideRebuild>().TryStart(_ => { }, ct) ?? Task.CompletedTask));
        services.AddSingleton<IEventSink>(sp => sp.GetRequiredService<ReadStoreSink>());
        services.AddSingleton<ReadSideRebuild>();
        services.AddSingleton<RejectionReason>(ErrorMapper.Reason);
        services.AddSingleton<IEventSink, PaymentProcessRunner>();
        services.AddEventBus(builder.Configuration);
        // Read now, so that a value that does not convert refuses to start (Setting) before anything runs.
        var pollInterval = Setting.Wait(builder.Configuration, "Relay:PollInterval", TimeSpan.FromSeconds(1));
        var busyBatch = Setting.Above(builder.Configuration, "Relay:BusyBatch", OutboxRelay.DefaultBusyBatch, 0);
        var busyCycle = Setting.Wait(builder.Configuration, "Relay:BusyCycle", OutboxRelay.DefaultBusyCycle, zeroIsNoPause: true);
        var quietCycle = Setting.Wait(builder.Configuration, "Relay:QuietCycle",
            PostgresConnection(builder.Configuration) is not null ? PostgresEventStore.RelayQuietCycle : OutboxRelay.DefaultQuietCycle, zeroIsNoPause: true);
        services.AddSingleton(sp => new OutboxRelay(
            sp.GetRequiredService<IEventStore>(), sp.GetServices<IEventSink>(), sp.GetRequiredService<IRelayLease>(),
            sp.GetRequiredService<RelayProgress>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<OutboxRelay>>())
        {
            PollInterval = pollInterval, BusyBatch = busyBatch, BusyCycle = busyCycle, QuietCycle = quietCycle,
            IsTransient = TransientFailures.IsTransient,
        });
        services.AddSingleton<SubscriptionSlots>();
        services.AddSingleton<HoldExpiry>();
        services.AddHostedService(sp => sp.GetRequiredService<HoldExpiry>());
        services.AddSingleton<LiveEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveEvents>());
        // Relay:Enabled=false makes a command-only instance (the relay runs elsewhere, or later).
        if (Setting.Of(builder.Configuration, "Relay:Enabled", true))
            services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());

        var app = builder.Build();
        if (dataDirectory is not null)
        {
            // Resolved, so that the container owns the lock and lets it go when the server stops.
            app.Services.GetRequiredService<DataDirectoryLock>();
            app.Logger.LogInformation("Embedded stores in {DataDirectory}", dataDirectory);
        }
        // Made now, not as the host starts its services or at the first call that needs them: a PostgreSQL that cannot
        // be used, or a setting they read that does not convert, refuses to start in one line (Program.cs) before the
        // host could log its failure with a stack trace.
        // A stop asked meanwhile ends the opening (PostgreSQL's heed it at once, the rest between stores).
        foreach (var made in (Type[])[typeof(IEventStore), typeof(IReadStoreGenerations), typeof(SubscriptionSlots), typeof(RateLimits), typeof(LiveEvents)])
        {
            signals.StartUp.ThrowIfCancellationRequested();
            app.Services.GetRequiredService(made);
        }
        app.Use(EdgeWarmUp.Unmeasured);
        app.Use(app.Services.GetRequiredService<ProtectedMode>().Gate);
        app.UseMetricsEndpoint(app.Services.GetRequiredService<ApiKeys>());
        app.UseMiddleware<RequestDecoding>();
        app.UseJsonApi();
        app.MapGrpcService<AccountGrpcService>();
        app.MapGrpcService<OrderGrpcService>();
        app.MapGrpcService<PaymentGrpcService>();
        app.MapGrpcService<BatchGrpcService>();
        app.MapGrpcService<QueryGrpcService>();
        app.MapGrpcService<HistoryGrpcService>();
        app.MapGrpcService<ProjectionGrpcService>();
        app.MapGrpcReflectionService();
        app.MapGrpcHealthChecksService();
        return app;
    }

    /// <summary>The addresses given by --urls or ASPNETCORE_URLS, or Kestrel's default.</summary>
    private static List<string> ListenUrls(IConfiguration configuration) =>
        (configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? "http://localhost:5000")
        .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    /// <summary>Registers the stores, whose opening <paramref name="startUp"/> ends; returns the data directory when an embedded store uses it.</summary>
    private static string? AddStorage(IServiceCollection services, IConfiguration configuration, CancellationToken startUp)
    {
        // A relative path is taken from the working directory, like every path given on a command line. Empty is unset, as
        // for every other setting (Storage__DataDirectory= in an environment file): Path.GetFullPath("") aborted start-up.
        var dataDirectory = Path.GetFullPath(configuration["Storage:DataDirectory"] is { Length: > 0 } configured ? configured : "data");
        var postgres = PostgresConnection(configuration) is { } given ? PostgresSessions.Of(given) : null;
        var readStore = ReadStoreKinds.Of(configuration);
        var embeddedFiles = postgres is null || readStore == ReadStoreKind.Sqlite;
        var groupCommit = GroupCommitSettings.Of(configuration);
        // Refuse to start, naming the folder, rather than fail on the first command with SQLite's bare "unable to open database file".
        if (embeddedFiles)
        {
            DataDirectory.EnsureWritable(dataDirectory);
            var held = DataDirectoryLock.Take(dataDirectory);
            services.AddSingleton(_ => held);
        }
        if (postgres is not null)
        {
            services.AddSingleton(_ => new PostgresRelayLease(postgres));
            services.AddSingleton<IRelayLease>(sp => sp.GetRequiredService<PostgresRelayLease>());
            // Migrations run (under an advisory lock) before the first command can reach the store.
            services.AddSingleton<IEventStore>(sp =>
            {
                var lease = sp.GetRequiredService<PostgresRelayLease>();
                return PostgresAtStartUp.Open(postgres, async () =>
                {
                    var store = await PostgresEventStore.OpenAsync(postgres, null, startUp, groupCommit);
                    store.RelaysHere = () => lease.IsHeld;
                    // As many as the first commands and the relay's consumers use at once after a restart.
                    await store.WarmPoolAsync(4, startUp);
                    return store;
                });
            });
        }
        else
        {
            services.AddSingleton<IEventStore>(_ => new SqliteEventStore(Path.Combine(dataDirectory, "events.db"), groupCommit));
            services.AddSingleton<IRelayLease, InProcessRelayLease>();
        }
        if (readStore == ReadStoreKind.Elasticsearch)
        {
            var es = configuration.GetSection("Elasticsearch");
            var clientSettings = ElasticsearchClientSettings(es);
            var indexPrefix = es["IndexPrefix"] is { Length: > 0 } prefix ? prefix : "grpcbank";
            if (!IndexLayout.IsValidPrefix(indexPrefix))
                throw new StartupRefusedException($"Elasticsearch:IndexPrefix '{indexPrefix}' cannot start an index name: lower case, at most " +
                    $"{IndexLayout.MaxPrefixBytes} bytes, no spaces or any of \\ / * ? \" < > | , # :, not starting with -, _ or +");
            services.AddSingleton<IReadStoreGenerations>(sp =>
            {
                var logger = sp.GetRequiredService<ILogger<ElasticsearchReadStore>>();
                // Servers on one PostgreSQL event store share the relay, which may run on a server of another release.
                var holdRelayOff = postgres is null ? null : (Func<CancellationToken, Task<IAsyncDisposable?>>)sp.GetRequiredService<PostgresRelayLease>().HoldOffAsync;
                return ElasticsearchAtStartUp.Open(new ElasticsearchReadStore(new Elastic.Clients.Elasticsearch.ElasticsearchClient(clientSettings),
                    new ElasticsearchReadStoreOptions { IndexPrefix = indexPrefix, HoldRelayOff = holdRelayOff }, logger), logger, startUp);
            });
        }
        else if (readStore == ReadStoreKind.Postgres)
        {
            var schema = configuration["ReadStore:Postgres:Schema"] ?? PostgresReadStoreGenerations.DefaultPrefix;
            if (!PostgresReadStoreGenerations.IsValidPrefix(schema))
                throw new StartupRefusedException(
                    $"ReadStore:Postgres:Schema '{schema}' is not a plain lower-case identifier (a-z, 0-9 and _, not starting with a digit) of at most 42 characters.");
            // Set up (under an advisory lock) before the first query can reach it; every server shares it.
            services.AddSingleton<IReadStoreGenerations>(_ => PostgresAtStartUp.Open(postgres!, () => PostgresReadStoreGenerations.OpenAsync(
                postgres!, schema, startUp)));
        }
        else
            services.AddSingleton<IReadStoreGenerations>(_ => new SqliteReadStoreGenerations(dataDirectory));
        services.AddSingleton<SwitchableReadStore>();
        services.AddSingleton<IReadStore>(sp => sp.GetRequiredService<SwitchableReadStore>());
        services.AddQueries(configuration, dataDirectory);
        return embeddedFiles ? dataDirectory : null;
    }

    /// <summary>
    /// The Elasticsearch client's settings, made now: a URL that is not one, credentials given both ways or half, or a CA
    /// file that cannot be read refuse to start, naming the setting, instead of aborting with the bare exception.
    /// </summary>
    private static Elastic.Clients.Elasticsearch.ElasticsearchClientSettings ElasticsearchClientSettings(IConfigurationSection es)
    {
        if (!Uri.TryCreate(es["Url"], UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            throw new StartupRefusedException($"Elasticsearch:Url must be an http:// or https:// URL (http://127.0.0.1:9200), not '{Setting.WithoutCredentials(es["Url"] ?? "")}'");
        var connection = new ElasticsearchConnection(url)
        {
            ApiKey = es["ApiKey"], Username = es["Username"], Password = es["Password"],
            CertificateFingerprint = es["CertificateFingerprint"], CaCertificatePath = es["CaCertificatePath"],
        };
        try
        {
            return connection.ClientSettings();
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new StartupRefusedException(e is ArgumentException
                ? e.Message
                : $"Elasticsearch:CaCertificatePath '{connection.CaCertificatePath}' is not a readable CA certificate ({e.Message})", e);
        }
    }

    /// <summary>ConnectionStrings:Postgres, or null when it is not set (embedded mode).</summary>
    internal static string? PostgresConnection(IConfiguration configuration) =>
        configuration.GetConnectionString("Postgres") is { Length: > 0 } connection ? connection : null;
}

/// <summary>Healthy while the event store answers a read.</summary>
public sealed class EventStoreHealthCheck(IEventStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await store.ReadAllAsync(long.MaxValue - 1, 1, ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy("the event store does not answer", e);
        }
    }
}
