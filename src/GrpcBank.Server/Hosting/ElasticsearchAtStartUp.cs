using GrpcBank.Application.ReadSide;
using GrpcBank.Elasticsearch;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Sets the Elasticsearch read store up at start-up, so that views of another release's schema that cannot be replaced
/// now (a server runs the relay: <see cref="ReadStoreInUseException"/>) refuse the start in one line, as on PostgreSQL,
/// instead of failing every query of a server that started. A node that cannot be used yet is not a refusal: the read
/// side has always waited out an outage (the relay retries, queries are UNAVAILABLE), so the store is set up at its first
/// use, where the same guard holds.
/// </summary>
public static class ElasticsearchAtStartUp
{
    public static ElasticsearchReadStoreGenerations Open(ElasticsearchReadStore store, ILogger logger, CancellationToken startUp)
    {
        try
        {
            store.InitializeAsync(startUp).GetAwaiter().GetResult();
        }
        catch (ReadStoreInUseException e)
        {
            throw new StartupRefusedException(e.Message, e);
        }
        catch (ElasticsearchReadStoreException e)
        {
            logger.LogWarning("Elasticsearch read store not set up at start-up, so at its first use: {Reason}", e.Message);
        }
        return new ElasticsearchReadStoreGenerations(store);
    }
}
