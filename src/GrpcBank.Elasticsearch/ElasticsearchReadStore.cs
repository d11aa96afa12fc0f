using System.Text.Json;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.MGet;
using Elastic.Transport;
using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Application.Orders;
using GrpcBank.Application.Payments;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpcBank.Elasticsearch;

/// <summary>
/// The read store on Elasticsearch. Views are projected in memory by the pure projections from the documents the batch
/// touches, written whole with external versions (idempotent, never older over newer), refreshed, and only then is the
/// applied watermark written, so a reader that sees the watermark can search everything up to it.
/// </summary>
public sealed partial class ElasticsearchReadStore : IReadStore
{
    private const string CheckpointId = "applied";

    private readonly ElasticsearchClient client;
    private readonly ElasticsearchReadStoreOptions options;
    private readonly ILogger logger;
    private readonly BulkWriter bulk;
    private readonly SemaphoreSlim initialization = new(1, 1);

    /// <summary>Null for the live store: reads go through the aliases. Set for a store pinned to one generation.</summary>
    private readonly IndexLayout? pinned;

    /// <summary>The concrete index of every view that writes go to; resolved from the aliases on first use.</summary>
    private volatile IReadOnlyDictionary<ViewIndex, string>? targets;

    /// <summary>The live store over a node, with its indices named after <paramref name="indexPrefix"/>.</summary>
    public ElasticsearchReadStore(Uri url, string indexPrefix = "grpcbank", ILogger<ElasticsearchReadStore>? logger = null)
        : this(new ElasticsearchClient(new ElasticsearchClientSettings(url)), new ElasticsearchReadStoreOptions { IndexPrefix = indexPrefix }, logger)
    {
    }

    public ElasticsearchReadStore(ElasticsearchClient client, ElasticsearchReadStoreOptions options, ILogger? logger = null)
        : this(client, options, logger, pinned: null)
    {
    }

    private ElasticsearchReadStore(ElasticsearchClient client, ElasticsearchReadStoreOptions options, ILogger? logger, IndexLayout? pinned)
    {
        this.client = client;
        this.options = options;
        this.logger = logger ?? NullLogger.Instance;
        this.pinned = pinned;
        bulk = new BulkWriter(client, options, this.logger);
        if (pinned is not null) targets = IndexLayout.All.ToDictionary(v => v, pinned.Concrete);
    }

    private IndexLayout Layout => pinned ?? new IndexLayout(options.IndexPrefix, options.InitialGeneration);

    /// <summary>Where reads go: the alias for the live store, the concrete index for a pinned generation.</summary>
    private string ReadName(ViewIndex view) => pinned?.Concrete(view) ?? Layout.Alias(view);

    /// <summary>
    /// Creates whatever is missing (idempotent): the dead-letter index and, for each view without an alias, a concrete
    /// index of the current generation with its alias. Runs on first use; call it at start-up to fail fast.
    /// </summary>
    public async Task InitializeAsync(CancellationToken ct)
    {
        if (targets is not null) return;
        await initialization.WaitAsync(ct);
        try
        {
            if (targets is not null) return;
            await CreateIndexAsync(Layout.DeadLetters, IndexLayout.DeadLettersBody(), ct);
            var current = await ResolveAliasesAsync(ct);
            var generation = current.Select(c => Layout.GenerationOf(c.Key, c.Value)).FirstOrDefault(g => g is not null)
                ?? options.InitialGeneration;
            var layout = Layout.WithGeneration(generation);
            var existing = IndexLayout.All.Where(current.ContainsKey).Select(v => current[v]).ToArray();
            if (existing.Length > 0) await UpdateViewSettingsAsync(existing, ct);
            var resolved = new Dictionary<ViewIndex, string>();
            foreach (var view in IndexLayout.All)
            {
                if (current.TryGetValue(view, out var concrete))
                {
                    resolved[view] = concrete;
                    continue;
                }
                await CreateIndexAsync(layout.Concrete(view), layout.CreateBody(view, withAlias: true), ct);
                resolved[view] = layout.Concrete(view);
            }
            targets = resolved;
        }
        finally
        {
            initialization.Release();
        }
    }

    private async Task<IReadOnlyDictionary<ViewIndex, string>> EnsureInitializedAsync(CancellationToken ct)
    {
        if (targets is null) await InitializeAsync(ct);
        return targets!;
    }

    /// <summary>The concrete index behind each alias of this prefix. An alias on two indices is refused: writes must have one target.</summary>
    private async Task<Dictionary<ViewIndex, string>> ResolveAliasesAsync(CancellationToken ct)
    {
        // A wildcard answers 200 with {} when nothing matches, where named aliases would answer 404.
        var response = await client.Transport.GetAsync<StringResponse>($"/_alias/{Layout.Prefix}-*", ct);
        if (!response.ApiCallDetails.HasSuccessfulStatusCode) throw Failure("GET /_alias", response);
        var found = new Dictionary<ViewIndex, string>();
        using var document = JsonDocument.Parse(response.Body);
        foreach (var index in document.RootElement.EnumerateObject())
        {
            if (!index.Value.TryGetProperty("aliases", out var aliases)) continue;
            foreach (var view in IndexLayout.All)
            {
                if (!aliases.TryGetProperty(Layout.Alias(view), out _)) continue;
                if (!found.TryAdd(view, index.Name))
                    throw new ElasticsearchReadStoreException(
                        $"alias {Layout.Alias(view)} points at both {found[view]} and {index.Name}; refusing to guess where to write");
            }
        }
        return found;
    }

    private async Task CreateIndexAsync(string index, string body, CancellationToken ct)
    {
        var response = await client.Transport.PutAsync<StringResponse>($"/{index}", PostData.String(body), ct);
        if (response.ApiCallDetails.HasSuccessfulStatusCode) return;
        // Another instance created it first (with its alias, atomically): fine.
        if (response.ApiCallDetails.HttpStatusCode == 400 && response.Body.Contains("resource_already_exists_exception", StringComparison.Ordinal)) return;
        throw Failure($"PUT /{index}", response);
    }

    /// <summary>Idempotent: views made by an older version refreshed on a timer (see <see cref="IndexLayout.ViewRefreshInterval"/>).</summary>
    private async Task UpdateViewSettingsAsync(IReadOnlyList<string> indices, CancellationToken ct)
    {
        var path = $"/{string.Join(',', indices)}/_settings";
        var response = await client.Transport.PutAsync<StringResponse>(path, PostData.String(IndexLayout.ViewSettingsBody()), ct);
        if (!response.ApiCallDetails.HasSuccessfulStatusCode) throw Failure($"PUT {path}", response);
    }

    private static ElasticsearchReadStoreException Failure(string what, StringResponse response) =>
        new($"{what} failed: {response.ApiCallDetails.HttpStatusCode?.ToString() ?? "no response"} {response.Body}".TrimEnd(),
            response.ApiCallDetails.OriginalException);

    public async Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        var target = await EnsureInitializedAsync(ct);
        var accounts = await LoadAsync<AccountDocument, AccountView>(target[ViewIndex.Accounts], events, AccountProjection.Handles, d => d.ToView(), ct);
        var orders = await LoadAsync<OrderDocument, OrderView>(target[ViewIndex.Orders], events, OrderProjection.Handles, d => d.ToView(), ct);
        var payments = await LoadAsync<PaymentDocument, PaymentView>(target[ViewIndex.Payments], events, PaymentProjection.Handles, d => d.ToView(), ct);

        var writes = new List<DocumentWrite>();
        var changed = new Dictionary<(ViewIndex, string), long>(); // the last position that changed each view
        foreach (var e in events)
        {
            var id = IdOf(e);
            if (AccountProjection.Handles(e))
            {
                if (AccountProjection.Apply(accounts.GetValueOrDefault(id), e) is not { } applied) continue;
                accounts[id] = applied.View;
                changed[(ViewIndex.Accounts, id)] = e.Position;
                if (applied.Line is { } line)
                    writes.Add(DocumentWrite.Of(target[ViewIndex.Transactions], line.TransactionId, line.Position, line.Position, TransactionDocument.From(line)));
            }
            else if (OrderProjection.Handles(e))
            {
                if (OrderProjection.Apply(orders.GetValueOrDefault(id), e) is not { } order) continue;
                orders[id] = order;
                changed[(ViewIndex.Orders, id)] = e.Position;
            }
            else if (PaymentProjection.Handles(e))
            {
                if (PaymentProjection.Apply(payments.GetValueOrDefault(id), e) is not { } payment) continue;
                payments[id] = payment;
                changed[(ViewIndex.Payments, id)] = e.Position;
            }
        }

        // Only the newest state of each view is written: the versions in between would be superseded at once.
        foreach (var ((view, id), position) in changed)
        {
            writes.Add(view switch
            {
                ViewIndex.Accounts => DocumentWrite.Of(target[view], id, accounts[id]!.Version, position, AccountDocument.From(accounts[id]!)),
                ViewIndex.Orders => DocumentWrite.Of(target[view], id, orders[id]!.Version, position, OrderDocument.From(orders[id]!)),
                ViewIndex.Payments => DocumentWrite.Of(target[view], id, payments[id]!.Version, position, PaymentDocument.From(payments[id]!)),
                _ => throw new InvalidOperationException($"{view} is not a view"),
            });
        }

        if (writes.Count > 0)
        {
            await bulk.WriteAsync(writes, Layout.DeadLetters, ct);
            // Read-your-writes: the watermark below must not become visible before the views are searchable.
            var refreshed = writes.Select(w => w.Index).Distinct().ToArray();
            var refresh = await client.Indices.RefreshAsync(Indices.Parse(string.Join(',', refreshed)), ct);
            if (!refresh.IsValidResponse) throw BulkWriter.Failure("_refresh", refresh);
        }
        if (watermark > 0) await WriteCheckpointAsync(target[ViewIndex.Checkpoint], watermark, ct);
    }

    /// <summary>The watermark only moves forward: its external version is the position itself, so an older one is a 409.</summary>
    private async Task WriteCheckpointAsync(string index, long watermark, CancellationToken ct)
    {
        var response = await client.IndexAsync(new CheckpointDocument(watermark, options.Time.GetUtcNow()), index, CheckpointId,
            d => d.Version(watermark).VersionType(VersionType.External), ct);
        if (!response.IsValidResponse && response.ApiCallDetails.HttpStatusCode != 409) throw BulkWriter.Failure("writing the checkpoint", response);
    }

    /// <summary>The current views of the aggregates the batch touches, in one <c>_mget</c>; absent ones map to null.</summary>
    private async Task<Dictionary<string, TView?>> LoadAsync<TDocument, TView>(
        string index, IReadOnlyList<RecordedEvent> events, Func<RecordedEvent, bool> handles, Func<TDocument, TView> toView, CancellationToken ct)
        where TView : class
    {
        var ids = events.Where(handles).Select(IdOf).Distinct().ToArray();
        var views = new Dictionary<string, TView?>();
        if (ids.Length == 0) return views;
        var response = await client.MultiGetAsync<TDocument>(new MultiGetRequest(index) { Ids = new Ids(ids) }, ct);
        if (!response.IsValidResponse) throw BulkWriter.Failure($"_mget on {index}", response);
        foreach (var doc in response.Docs)
        {
            doc.Match(
                found => views[found!.Id] = found.Found && found.Source is { } source ? toView(source) : null,
                error => throw new ElasticsearchReadStoreException($"_mget on {index}: {error?.Id}: {error?.Error?.Type} {error?.Error?.Reason}"));
        }
        return views;
    }

    /// <summary>The aggregate id of a stream id such as account-42.</summary>
    private static string IdOf(RecordedEvent e) => StreamIds.AggregateIdOf(e.StreamId);

    public async Task<long> AppliedPositionAsync(CancellationToken ct)
    {
        await EnsureInitializedAsync(ct);
        var response = await client.GetAsync<CheckpointDocument>(ReadName(ViewIndex.Checkpoint), CheckpointId, ct);
        if (response.ApiCallDetails.HttpStatusCode == 404) return 0;
        if (!response.IsValidResponse) throw BulkWriter.Failure("reading the checkpoint", response);
        return response.Found && response.Source is { } checkpoint ? checkpoint.Position : 0;
    }
}
