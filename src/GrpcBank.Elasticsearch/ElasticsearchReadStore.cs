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

    /// <summary>A new generation being bulk-loaded: searched by nobody, so its batches skip the refresh (see <see cref="FinishLoadAsync"/>).</summary>
    private volatile bool loading;

    /// <summary>The concrete index behind every view's alias, resolved on first use (null until then); names the generation.</summary>
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

    /// <summary>
    /// Where reads and writes go: the alias for the live store, so they follow a rebuild whichever server ran it; the
    /// concrete index for a pinned generation.
    /// </summary>
    private string IndexName(ViewIndex view) => pinned?.Concrete(view) ?? Layout.Alias(view);

    /// <summary>
    /// Creates whatever is missing (idempotent): the dead-letter index and, for each view without an alias, a concrete
    /// index of the current generation with its alias. Views of another release's schema are replaced first
    /// (<see cref="ReplaceOtherSchemaAsync"/>). Runs on first use; call it at start-up to fail fast.
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
            var existing = IndexLayout.All.Where(current.ContainsKey).Select(v => current[v]).ToArray();
            if (current.Any(c => Layout.IsOtherSchema(c.Key, c.Value))) current = await ReplaceOtherSchemaAsync(current, ct);
            else if (existing.Length > 0) await UpdateViewSettingsAsync(existing, ct);
            var generation = current.Select(c => Layout.GenerationOf(c.Key, c.Value)).FirstOrDefault(g => g is not null)
                ?? options.InitialGeneration;
            var layout = Layout.WithGeneration(generation);
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

    /// <summary>
    /// Views behind the aliases that another release made (another <see cref="IndexLayout.SchemaVersion"/>): their strict
    /// mappings refuse this release's documents, so every write to them would be dead-lettered and the views would stand
    /// still. As the SQLite and PostgreSQL read stores do with theirs, an empty generation of this schema replaces them: it
    /// takes every alias in one request, they are deleted, and the relay refills it from the event store (its checkpoint
    /// is 0). Returns the new concrete index of every view.
    /// </summary>
    /// <remarks>Run under the initialization lock, which <see cref="SwitchToAsync"/> takes too.</remarks>
    private async Task<Dictionary<ViewIndex, string>> ReplaceOtherSchemaAsync(Dictionary<ViewIndex, string> current, CancellationToken ct)
    {
        // Before anything changes, and held until the old views are gone: see ElasticsearchReadStoreOptions.HoldRelayOff.
        IAsyncDisposable? relayHeldOff = null;
        if (options.HoldRelayOff is { } holdOff)
        {
            relayHeldOff = await holdOff(ct);
            // A server of this release starting too may have replaced them meanwhile (its relay may run by now): serve its.
            var now = await ResolveAliasesAsync(ct);
            if (now.Select(c => Layout.OtherSchemaOf(c.Key, c.Value)).FirstOrDefault(v => v is not null) is not { } otherSchema)
            {
                if (relayHeldOff is not null) await relayHeldOff.DisposeAsync();
                return now;
            }
            if (relayHeldOff is null)
                throw new ReadStoreInUseException($"{Layout.Prefix}-* (Elasticsearch) serves views", otherSchema, IndexLayout.SchemaVersion);
            current = now;
        }
        await using var held = relayHeldOff;
        var fresh = Layout.WithGeneration(options.Time.GetUtcNow().ToString("yyyyMMddHHmmssfff"));
        foreach (var view in IndexLayout.All) await CreateIndexAsync(fresh.Concrete(view), fresh.CreateBody(view, withAlias: false), ct);
        try
        {
            await MoveAliasesAsync(current, fresh, null, ct);
        }
        catch (ElasticsearchReadStoreException)
        {
            // A server starting at the same time may have replaced them first (the aliases it moved away fail this
            // request): serve its generation and drop ours. Anything else fails the start.
            var now = await ResolveAliasesAsync(ct);
            if (now.Count < IndexLayout.All.Count || now.Any(c => Layout.GenerationOf(c.Key, c.Value) is null)) throw;
            await DropGenerationAsync(ForGeneration(fresh.Generation), ct);
            return now;
        }
        logger.LogWarning("Elasticsearch read side: views of another schema ({Old}) replaced by generation {Generation} of schema v{Version}, to be rebuilt from the event store",
            string.Join(", ", current.Values), fresh.Generation, IndexLayout.SchemaVersion);
        return IndexLayout.All.ToDictionary(v => v, fresh.Concrete);
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
            response.ApiCallDetails.OriginalException, response.ApiCallDetails.HttpStatusCode);

    public async Task ApplyAsync(IReadOnlyList<RecordedEvent> events, long watermark, CancellationToken ct)
    {
        await EnsureInitializedAsync(ct);
        var accounts = await LoadAsync<AccountDocument, AccountView>(IndexName(ViewIndex.Accounts), IdsOf(events, AccountProjection.Handles), d => d.ToView(), ct);
        var orders = await LoadAsync<OrderDocument, OrderView>(IndexName(ViewIndex.Orders), IdsOf(events, OrderProjection.Handles), d => d.ToView(), ct);
        var payments = await LoadAsync<PaymentDocument, PaymentView>(IndexName(ViewIndex.Payments), IdsOf(events, PaymentProjection.Handles), d => d.ToView(), ct);

        var lines = new List<DocumentWrite>();
        var holdChanges = new List<HoldChange>();
        var changed = new Dictionary<(ViewIndex, string), long>(); // the last position that changed each view
        var touched = new HashSet<ViewIndex>(); // every view the batch is about, whether or not it changes it
        foreach (var e in events)
        {
            var id = IdOf(e);
            if (AccountProjection.Handles(e))
            {
                touched.UnionWith([ViewIndex.Accounts, ViewIndex.Transactions]);
                if (AccountProjection.Apply(accounts.GetValueOrDefault(id), e) is not { } applied) continue;
                accounts[id] = applied.View;
                changed[(ViewIndex.Accounts, id)] = e.Position;
                if (applied.Line is { } line)
                    lines.Add(DocumentWrite.Of(IndexName(ViewIndex.Transactions), line.TransactionId, line.Position, line.Position, TransactionDocument.From(line)));
                if (applied.Hold is { } hold)
                {
                    touched.Add(ViewIndex.Holds);
                    holdChanges.Add(hold);
                }
            }
            else if (OrderProjection.Handles(e))
            {
                touched.Add(ViewIndex.Orders);
                if (OrderProjection.Apply(orders.GetValueOrDefault(id), e) is not { } order) continue;
                orders[id] = order;
                changed[(ViewIndex.Orders, id)] = e.Position;
            }
            else if (PaymentProjection.Handles(e))
            {
                touched.Add(ViewIndex.Payments);
                if (PaymentProjection.Apply(payments.GetValueOrDefault(id), e) is not { } payment) continue;
                payments[id] = payment;
                changed[(ViewIndex.Payments, id)] = e.Position;
            }
        }

        // Only the newest state of each view is written: the versions in between would be superseded at once.
        var views = changed.Select(c => c.Key switch
        {
            (ViewIndex.Accounts, var id) => DocumentWrite.Of(IndexName(ViewIndex.Accounts), id, accounts[id]!.Version, c.Value, AccountDocument.From(accounts[id]!)),
            (ViewIndex.Orders, var id) => DocumentWrite.Of(IndexName(ViewIndex.Orders), id, orders[id]!.Version, c.Value, OrderDocument.From(orders[id]!)),
            (ViewIndex.Payments, var id) => DocumentWrite.Of(IndexName(ViewIndex.Payments), id, payments[id]!.Version, c.Value, PaymentDocument.From(payments[id]!)),
            var (view, _) => throw new InvalidOperationException($"{view} is not a view"),
        }).ToList();

        lines.AddRange(await HoldWritesAsync(holdChanges, ct));

        // Lines (and holds) first, every one stored (or already there) before any view moves: a redelivered batch derives lines only
        // for the events its views have not seen, so a view ahead of its lines would lose them for good.
        await bulk.WriteAsync(lines, Layout.DeadLetters, requireAlias: pinned is null, ct);
        await bulk.WriteAsync(views, Layout.DeadLetters, requireAlias: pinned is null, ct);
        // Views refresh only here, once the whole batch is stored (never on a timer, see IndexLayout.ViewRefreshInterval),
        // so no search sees part of it; a refresh=wait_for write would wait for a refresh that never comes. Even a
        // redelivered batch with nothing left to write refreshes: what its first delivery stored may not be searchable
        // yet, and the watermark below promises it is.
        if (touched.Count > 0 && !loading)
        {
            var refresh = await client.Indices.RefreshAsync(Indices.Parse(string.Join(',', IndexLayout.All.Where(touched.Contains).Select(IndexName))), ct);
            if (!refresh.IsValidResponse) throw BulkWriter.Failure("_refresh", refresh);
        }
        if (watermark > 0) await WriteCheckpointAsync(watermark, ct);
    }

    /// <summary>
    /// The hold documents the batch's hold changes lead to, each versioned by the position of its last change: a hold
    /// resolved in a later batch than it was placed is read first (it was stored before the account view moved past it).
    /// </summary>
    private async Task<IEnumerable<DocumentWrite>> HoldWritesAsync(List<HoldChange> changes, CancellationToken ct)
    {
        if (changes.Count == 0) return [];
        var placedHere = changes.OfType<HoldChange.Placed>().Select(p => HoldDocument.IdOf(p.Hold.AccountId, p.Hold.HoldId)).ToHashSet();
        var toLoad = changes.OfType<HoldChange.Resolved>().Select(r => HoldDocument.IdOf(r.AccountId, r.HoldId)).Where(id => !placedHere.Contains(id))
            .Distinct().ToArray();
        var holds = await LoadAsync<HoldDocument, HoldView>(IndexName(ViewIndex.Holds), toLoad, d => d.ToView(), ct);
        foreach (var change in changes)
        {
            switch (change)
            {
                case HoldChange.Placed { Hold: var h }:
                    holds[HoldDocument.IdOf(h.AccountId, h.HoldId)] = h;
                    break;
                case HoldChange.Resolved r when holds.GetValueOrDefault(HoldDocument.IdOf(r.AccountId, r.HoldId)) is { } h:
                    holds[HoldDocument.IdOf(r.AccountId, r.HoldId)] =
                        h with { Status = r.Status, CapturedMinor = r.CapturedMinor, UpdatedAt = r.At, Position = r.Position };
                    break;
                case HoldChange.Resolved r:
                    throw new ElasticsearchReadStoreException($"hold {r.HoldId} of account {r.AccountId} resolved but never placed");
            }
        }
        return holds.Where(h => h.Value is not null).Select(h =>
            DocumentWrite.Of(IndexName(ViewIndex.Holds), h.Key, h.Value!.Position, h.Value.Position, HoldDocument.From(h.Value)));
    }

    /// <summary>The watermark only moves forward: its external version is the position itself, so an older one is a 409.</summary>
    private async Task WriteCheckpointAsync(long watermark, CancellationToken ct)
    {
        var response = await client.IndexAsync(new CheckpointDocument(watermark, options.Time.GetUtcNow()), IndexName(ViewIndex.Checkpoint), CheckpointId,
            d => d.Version(watermark).VersionType(VersionType.External).RequireAlias(pinned is null ? true : null), ct);
        if (!response.IsValidResponse && response.ApiCallDetails.HttpStatusCode != 409) throw BulkWriter.Failure("writing the checkpoint", response);
    }

    private static string[] IdsOf(IReadOnlyList<RecordedEvent> events, Func<RecordedEvent, bool> handles) =>
        events.Where(handles).Select(IdOf).Distinct().ToArray();

    /// <summary>
    /// The current documents of <paramref name="ids"/>, in one <c>_mget</c> (ids travel in the body, so "." and ".." are
    /// ids like any other, never path segments); absent ones map to null. A missing index is an error, not an absence.
    /// </summary>
    private async Task<Dictionary<string, TView?>> LoadAsync<TDocument, TView>(
        string index, string[] ids, Func<TDocument, TView> toView, CancellationToken ct)
        where TView : class
    {
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
        var response = await client.GetAsync<CheckpointDocument>(IndexName(ViewIndex.Checkpoint), CheckpointId, ct);
        // 404 with found:false is "no watermark yet"; 404 with an error (index_not_found_exception) is a missing index.
        if (response.ApiCallDetails.HttpStatusCode == 404 && response.ElasticsearchServerError is null) return 0;
        if (!response.IsValidResponse) throw BulkWriter.Failure("reading the checkpoint", response);
        return response.Found && response.Source is { } checkpoint ? checkpoint.Position : 0;
    }
}
