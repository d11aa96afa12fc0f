namespace GrpcBank.Elasticsearch;

/// <summary>How the Elasticsearch read store names its indices and how patiently it retries transient refusals.</summary>
public sealed record ElasticsearchReadStoreOptions
{
    /// <summary>Every index and alias name starts with it; lower case, as Elasticsearch requires.</summary>
    public string IndexPrefix { get; init; } = "grpcbank";

    /// <summary>The generation created when no alias exists yet.</summary>
    public string InitialGeneration { get; init; } = "1";

    /// <summary>Retries of bulk items refused with 429 or 5xx before the batch fails.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>The first retry's delay; the n-th waits n times as long.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeProvider Time { get; init; } = TimeProvider.System;
}
