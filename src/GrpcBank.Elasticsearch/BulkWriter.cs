using System.Text.Json;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.Bulk;
using Elastic.Transport.Products.Elasticsearch;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Elasticsearch;

/// <summary>One whole document to index with an external version; <see cref="Position"/> is the event that produced it.</summary>
internal sealed record DocumentWrite(string Index, string Id, long Version, long Position, object Document, IBulkOperation Operation)
{
    /// <summary>About what the write adds to a <c>_bulk</c> body: its action line and its document.</summary>
    public int Bytes { get; init; }

    public static DocumentWrite Of<T>(string index, string id, long version, long position, T document) where T : class =>
        new(index, id, version, position, document,
            new BulkIndexOperation<T>(document) { Index = index, Id = id, Version = version, VersionType = VersionType.External })
        {
            Bytes = ActionLineBytes + index.Length + id.Length + JsonSerializer.SerializeToUtf8Bytes(document).Length,
        };

    /// <summary><c>{"index":{"_index":…,"_id":…,"version":…,"version_type":"external"}}</c> without the names, and two newlines.</summary>
    private const int ActionLineBytes = 80;
}

/// <summary>
/// Sends whole documents through <c>_bulk</c> and reads every item: 409 under external versioning means already applied; 429 and 5xx are retried with backoff, a bounded
/// number of times, then the batch fails so the relay retries it; 404 (the index is gone, or the alias the write must go
/// through) fails the batch too; any other refusal is poison and goes to the dead-letter index with an error log, never
/// skipped silently.
/// </summary>
internal sealed class BulkWriter(ElasticsearchClient client, ElasticsearchReadStoreOptions options, ILogger logger)
{
    /// <param name="requireAlias">Every write must go through an alias: a missing alias fails instead of creating an index.</param>
    /// <remarks>In requests of about <see cref="ElasticsearchReadStoreOptions.MaxBulkBytes"/> each, in order.</remarks>
    public async Task WriteAsync(IReadOnlyList<DocumentWrite> writes, string deadLetters, bool requireAlias, CancellationToken ct)
    {
        foreach (var request in Requests(writes, options.MaxBulkBytes))
            await WriteRequestAsync(request, deadLetters, requireAlias, ct);
    }

    /// <summary>Consecutive runs of writes of at most <paramref name="maxBytes"/> each (a larger write alone).</summary>
    internal static IEnumerable<IReadOnlyList<DocumentWrite>> Requests(IReadOnlyList<DocumentWrite> writes, int maxBytes)
    {
        var request = new List<DocumentWrite>();
        var bytes = 0;
        foreach (var write in writes)
        {
            if (request.Count > 0 && bytes + write.Bytes > maxBytes)
            {
                yield return request;
                (request, bytes) = ([], 0);
            }
            request.Add(write);
            bytes += write.Bytes;
        }
        if (request.Count > 0) yield return request;
    }

    private async Task WriteRequestAsync(IReadOnlyList<DocumentWrite> writes, string deadLetters, bool requireAlias, CancellationToken ct)
    {
        var pending = writes;
        var poison = new List<(DocumentWrite Write, ResponseItem Item)>();
        int? transientStatus = null;
        for (var attempt = 1; pending.Count > 0; attempt++)
        {
            var response = await client.BulkAsync(new BulkRequest
            {
                Operations = [.. pending.Select(w => w.Operation)],
                RequireAlias = requireAlias ? true : null,
            }, ct);
            var retry = new List<DocumentWrite>();
            if (!response.ApiCallDetails.HasSuccessfulStatusCode)
            {
                if (!ElasticsearchReadStoreException.IsTransientStatus(response.ApiCallDetails.HttpStatusCode)) throw Failure("_bulk", response);
                transientStatus = response.ApiCallDetails.HttpStatusCode;
                retry.AddRange(pending);
            }
            else
            {
                var items = response.Items.ToList();
                for (var i = 0; i < pending.Count; i++)
                {
                    var item = items[i];
                    switch (item.Status)
                    {
                        case >= 200 and < 300:
                            break;
                        case 409:
                            logger.LogDebug("{Index}/{Id} v{Version} is already applied", pending[i].Index, pending[i].Id, pending[i].Version);
                            break;
                        case 404:
                            throw new ElasticsearchReadStoreException(
                                $"_bulk: {pending[i].Index} is missing ({item.Error?.Type}: {item.Error?.Reason}); the batch is not applied");
                        case var status when ElasticsearchReadStoreException.IsTransientStatus(status):
                            transientStatus = status;
                            retry.Add(pending[i]);
                            break;
                        default:
                            poison.Add((pending[i], item));
                            break;
                    }
                }
            }

            if (retry.Count > 0)
            {
                if (attempt > options.MaxRetries)
                    throw new ElasticsearchReadStoreException(
                        $"_bulk: {retry.Count} item(s) still rejected as transient after {options.MaxRetries} retries", status: transientStatus);
                logger.LogWarning("_bulk: {Count} item(s) rejected as transient; retry {Attempt} of {Max}", retry.Count, attempt, options.MaxRetries);
                await Task.Delay(options.RetryDelay * attempt, options.Time, ct);
            }
            pending = retry;
        }

        if (poison.Count > 0) await DeadLetterAsync(poison, deadLetters, ct);
    }

    private async Task DeadLetterAsync(List<(DocumentWrite Write, ResponseItem Item)> poison, string deadLetters, CancellationToken ct)
    {
        var now = options.Time.GetUtcNow();
        var operations = new BulkOperationsCollection();
        foreach (var (write, item) in poison)
        {
            logger.LogError("Elasticsearch refused {Index}/{Id} v{Version} (event position {Position}) with {Status} {ErrorType}: {Reason}; dead-lettered to {DeadLetters}",
                write.Index, write.Id, write.Version, write.Position, item.Status, item.Error?.Type, item.Error?.Reason, deadLetters);
            var letter = new DeadLetterDocument(write.Index, write.Id, write.Version, item.Status, item.Error?.Type ?? "",
                item.Error?.Reason ?? "", JsonSerializer.Serialize(write.Document, write.Document.GetType()), write.Position, now);
            // One letter per (index, id, version): a redelivered batch rewrites the same letter instead of adding another.
            operations.Add(new BulkIndexOperation<DeadLetterDocument>(letter) { Index = deadLetters, Id = $"{write.Index}:{write.Id}:{write.Version}" });
        }
        var response = await client.BulkAsync(new BulkRequest { Operations = operations }, ct);
        if (!response.IsValidResponse) throw Failure("_bulk to the dead-letter index", response);
    }

    internal static ElasticsearchReadStoreException Failure(string what, ElasticsearchResponse response) =>
        new($"{what} failed: {response.ApiCallDetails.HttpStatusCode?.ToString() ?? "no response"} {response.ElasticsearchServerError?.Error?.Type} {response.ElasticsearchServerError?.Error?.Reason}".TrimEnd(),
            response.ApiCallDetails.OriginalException, response.ApiCallDetails.HttpStatusCode);
}

/// <summary>Elasticsearch did not do what the read store asked; the caller (the relay) retries the batch.</summary>
/// <param name="status">The HTTP status Elasticsearch answered, if it answered.</param>
public sealed class ElasticsearchReadStoreException(string message, Exception? inner = null, int? status = null) : Exception(message, inner)
{
    public int? Status => status;

    /// <summary>
    /// Elasticsearch said "not now": 429 (a full queue, a tripped circuit breaker) or a 5xx. A retry may succeed, so a
    /// query that meets it is UNAVAILABLE, even though no connection failed (there is no inner exception to judge by).
    /// </summary>
    public bool IsTransient => IsTransientStatus(status);

    public static bool IsTransientStatus(int? status) => status is 429 or >= 500;
}
