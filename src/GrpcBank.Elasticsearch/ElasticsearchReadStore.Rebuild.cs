using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.IndexManagement;
using Elastic.Transport;

namespace GrpcBank.Elasticsearch;

/// <summary>
/// Rebuilds: a fresh generation of every index (with its own checkpoint) is fed from the event store by the host while
/// the live generation keeps serving, then every alias moves to it in one atomic <c>POST /_aliases</c>.
/// </summary>
public sealed partial class ElasticsearchReadStore
{
    /// <summary>The generation this store writes to (the live one once resolved, or the pinned one).</summary>
    public async Task<string> CurrentGenerationAsync(CancellationToken ct)
    {
        var target = await EnsureInitializedAsync(ct);
        return Layout.GenerationOf(ViewIndex.Checkpoint, target[ViewIndex.Checkpoint])
            ?? throw new ElasticsearchReadStoreException($"{target[ViewIndex.Checkpoint]} is not an index of schema v{IndexLayout.SchemaVersion}");
    }

    /// <summary>A store that reads and writes only the concrete indices of <paramref name="generation"/>, never the aliases.</summary>
    public ElasticsearchReadStore ForGeneration(string generation) =>
        new(client, options, logger, new IndexLayout(options.IndexPrefix, generation));

    /// <summary>
    /// Creates every index of a new generation, without aliases (idempotent), and returns the store pinned to it:
    /// apply every event from the start to it, then <see cref="SwitchToAsync"/>.
    /// </summary>
    public async Task<ElasticsearchReadStore> CreateGenerationAsync(string generation, Action<string>? progress, CancellationToken ct)
    {
        var layout = new IndexLayout(options.IndexPrefix, generation);
        await CreateIndexAsync(layout.DeadLetters, IndexLayout.DeadLettersBody(), ct);
        foreach (var view in IndexLayout.All)
        {
            await CreateIndexAsync(layout.Concrete(view), layout.CreateBody(view, withAlias: false, loading: true), ct);
            progress?.Invoke($"created {layout.Concrete(view)}");
        }
        var store = ForGeneration(generation);
        store.loading = true;
        return store;
    }

    /// <summary>
    /// Ends the bulk load of a generation made by <see cref="CreateGenerationAsync"/>: nobody searched it meanwhile, so its
    /// batches were not refreshed one by one and it had no replicas to keep in step. Now it gets its replicas and one
    /// refresh, before any alias points at it; from here each batch refreshes as on a live generation.
    /// </summary>
    public async Task FinishLoadAsync(CancellationToken ct)
    {
        var layout = pinned ?? throw new InvalidOperationException("only a generation made by CreateGenerationAsync is loaded");
        var indices = string.Join(',', IndexLayout.All.Select(layout.Concrete));
        var path = $"/{indices}/_settings";
        var settings = await client.Transport.PutAsync<StringResponse>(path, PostData.String(IndexLayout.LoadedSettingsBody(options.Replicas)), ct);
        if (!settings.ApiCallDetails.HasSuccessfulStatusCode) throw Failure($"PUT {path}", settings);
        var refresh = await client.Indices.RefreshAsync(Indices.Parse(indices), ct);
        if (!refresh.IsValidResponse) throw BulkWriter.Failure("_refresh", refresh);
        loading = false;
    }

    /// <summary>
    /// Deletes the indices of <paramref name="abandoned"/>'s generation, made by <see cref="CreateGenerationAsync"/> for a
    /// rebuild that ended before its switch (those it did not get to create are passed over). The dead letters are
    /// shared by every generation and stay.
    /// </summary>
    public async Task DropGenerationAsync(ElasticsearchReadStore abandoned, CancellationToken ct)
    {
        var layout = abandoned.pinned ?? throw new ArgumentException("only a store made by ForGeneration/CreateGenerationAsync can be dropped", nameof(abandoned));
        var indices = IndexLayout.All.Select(layout.Concrete).ToArray();
        var delete = await client.Indices.DeleteAsync(new DeleteIndexRequest(Indices.Parse(string.Join(',', indices))) { IgnoreUnavailable = true }, ct);
        if (!delete.IsValidResponse) throw BulkWriter.Failure($"deleting {string.Join(',', indices)}", delete);
    }

    /// <summary>
    /// Moves every alias to <paramref name="rebuilt"/>'s generation in one atomic request (remove + add per alias), so
    /// readers see either the old views and checkpoint or the new ones, never a mix; then deletes the old generation.
    /// From then on this store writes to the new generation.
    /// </summary>
    public async Task SwitchToAsync(ElasticsearchReadStore rebuilt, Action<string>? progress, CancellationToken ct)
    {
        var next = rebuilt.pinned ?? throw new ArgumentException("only a store made by ForGeneration/CreateGenerationAsync can be switched to", nameof(rebuilt));
        if (pinned is not null) throw new InvalidOperationException("switch the live store, not a pinned generation");
        await initialization.WaitAsync(ct);
        try
        {
            await MoveAliasesAsync(await ResolveAliasesAsync(ct), next, progress, ct);
        }
        finally
        {
            initialization.Release();
        }
    }

    /// <summary>
    /// Moves every alias from the indices of <paramref name="current"/> to those of <paramref name="next"/> in one request
    /// (from then on this store writes to <paramref name="next"/>), then deletes the indices they left.
    /// </summary>
    private async Task MoveAliasesAsync(IReadOnlyDictionary<ViewIndex, string> current, IndexLayout next, Action<string>? progress, CancellationToken ct)
    {
        var actions = new List<IndexUpdateAliasesAction>();
        foreach (var view in IndexLayout.All)
        {
            if (current.TryGetValue(view, out var old) && old != next.Concrete(view))
                actions.Add(new RemoveAction { Index = old, Alias = next.Alias(view) });
            actions.Add(new AddAction { Index = next.Concrete(view), Alias = next.Alias(view) });
        }
        var swap = await client.Indices.UpdateAliasesAsync(new UpdateAliasesRequest { Actions = actions }, ct);
        if (!swap.IsValidResponse) throw BulkWriter.Failure("POST /_aliases", swap);
        targets = IndexLayout.All.ToDictionary(v => v, next.Concrete);
        progress?.Invoke($"aliases now point at generation {next.Generation}");

        // Only after the swap: until then the old generation was what every reader saw.
        var retired = current.Values.Where(old => !targets.Values.Contains(old)).ToArray();
        if (retired.Length > 0)
        {
            var delete = await client.Indices.DeleteAsync(Indices.Parse(string.Join(',', retired)), ct);
            if (!delete.IsValidResponse) throw BulkWriter.Failure($"deleting {string.Join(',', retired)}", delete);
            progress?.Invoke($"deleted {string.Join(", ", retired)}");
        }
    }
}
