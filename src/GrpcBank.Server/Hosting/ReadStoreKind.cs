namespace GrpcBank.Server.Hosting;

/// <summary>
/// Which read store serves queries: <c>ReadStore:Kind</c> = <c>Sqlite</c> | <c>Postgres</c> | <c>Elasticsearch</c>; by
/// default Elasticsearch when <c>Elasticsearch:Url</c> is set, else SQLite (ARCHITECTURE.md, "Configuration").
/// A kind whose connection setting is missing refuses to start, saying which setting.
/// </summary>
public enum ReadStoreKind
{
    Sqlite,
    Postgres,
    Elasticsearch,
}

public static class ReadStoreKinds
{
    public static ReadStoreKind Of(IConfiguration configuration)
    {
        var elasticsearch = configuration["Elasticsearch:Url"] is { Length: > 0 };
        var configured = configuration["ReadStore:Kind"];
        if (string.IsNullOrWhiteSpace(configured)) return elasticsearch ? ReadStoreKind.Elasticsearch : ReadStoreKind.Sqlite;
        if (!Setting.TryName<ReadStoreKind>(configured, out var kind))
            throw new StartupRefusedException($"ReadStore:Kind '{configured}' is not one of Sqlite, Postgres, Elasticsearch.");
        if (kind == ReadStoreKind.Postgres && BankServer.PostgresConnection(configuration) is null)
            throw new StartupRefusedException("ReadStore:Kind is Postgres but ConnectionStrings:Postgres is not set.");
        if (kind == ReadStoreKind.Elasticsearch && !elasticsearch)
            throw new StartupRefusedException("ReadStore:Kind is Elasticsearch but Elasticsearch:Url is not set.");
        return kind;
    }
}
