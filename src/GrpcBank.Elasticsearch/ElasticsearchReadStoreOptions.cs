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

    /// <summary>
    /// A <c>_bulk</c> request carries about this many bytes at most (Elastic's advice: a few MB; a request is held in
    /// memory whole on the node). A single larger document still goes, alone.
    /// </summary>
    public int MaxBulkBytes { get; init; } = 5 * 1024 * 1024;

    /// <summary>Replicas of every view index; a new generation has none while it is loaded, then gets these.</summary>
    public int Replicas { get; init; } = 1;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Asked before views of another schema (another release's) are replaced by empty ones, which only a relay that starts
    /// afterwards refills: the hold it returns keeps every relay from starting until they are, and null (a server runs the
    /// relay now, and would feed them only new events) refuses the replacement with a <c>ReadStoreInUseException</c>.
    /// Unset: no relay can run elsewhere (one server on an embedded event store).
    /// </summary>
    public Func<CancellationToken, Task<IAsyncDisposable?>>? HoldRelayOff { get; init; }
}
