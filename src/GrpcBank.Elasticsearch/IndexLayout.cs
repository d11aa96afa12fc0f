using System.Text.Json.Nodes;

namespace GrpcBank.Elasticsearch;

/// <summary>The read side's indices. Each lives as a versioned concrete index behind a stable alias.</summary>
public enum ViewIndex { Accounts, Transactions, Orders, Payments, Checkpoint, Holds }

/// <summary>
/// Index names: <c>{prefix}-{view}</c> is the alias that reads go through, <c>{prefix}-{view}-v{schema}-{generation}</c>
/// the concrete index that writes go to. A rebuild creates a new generation and swaps every alias at once.
/// </summary>
public sealed record IndexLayout(string Prefix, string Generation)
{
    /// <summary>
    /// Bumped when a mapping changes: the live store then replaces the views of the earlier version at start-up with an
    /// empty generation of this one, which the relay fills from the event store (<see cref="ElasticsearchReadStore.InitializeAsync"/>).
    /// </summary>
    /// <remarks>
    /// 3: the times queries filter and sort on are <c>date_nanos</c> (to the microsecond, as the embedded store keeps
    /// them), and owner names sort as written (no normalizer), as they do there.
    /// </remarks>
    public const int SchemaVersion = 3;

    public static readonly IReadOnlyList<ViewIndex> All =
        [ViewIndex.Accounts, ViewIndex.Transactions, ViewIndex.Orders, ViewIndex.Payments, ViewIndex.Checkpoint, ViewIndex.Holds];

    /// <summary>The longest prefix: an index name may have 255 bytes, and the view, schema and generation follow it.</summary>
    public const int MaxPrefixBytes = 100;

    /// <summary>
    /// Whether <paramref name="prefix"/> can start index names, by Elasticsearch's rules for them: lower case, none of
    /// <c>\ / * ? " &lt; &gt; | , # :</c> or spaces, not starting with <c>-</c>, <c>_</c> or <c>+</c>. A node refuses every
    /// other one only when the first index is created, which a server finds after it has started.
    /// </summary>
    public static bool IsValidPrefix(string prefix) =>
        prefix.Length > 0 && System.Text.Encoding.UTF8.GetByteCount(prefix) <= MaxPrefixBytes
        && prefix[0] is not ('-' or '_' or '+') && prefix is not ("." or "..")
        && prefix.All(c => !char.IsUpper(c) && !char.IsWhiteSpace(c) && !char.IsControl(c) && c is not ('\\' or '/' or '*' or '?' or '"' or '<' or '>' or '|' or ',' or '#' or ':'));

    public string Alias(ViewIndex view) => $"{Prefix}-{Name(view)}";

    public string Concrete(ViewIndex view) => $"{Prefix}-{Name(view)}-v{SchemaVersion}-{Generation}";

    /// <summary>Poison writes of every generation; never swapped, never deleted by a rebuild.</summary>
    public string DeadLetters => $"{Prefix}-deadletters";

    public IndexLayout WithGeneration(string generation) => this with { Generation = generation };

    /// <summary>The generation of a concrete index name of this prefix, or null when it is not one of ours.</summary>
    public string? GenerationOf(ViewIndex view, string concreteIndex)
    {
        var stem = $"{Prefix}-{Name(view)}-v{SchemaVersion}-";
        return concreteIndex.StartsWith(stem, StringComparison.Ordinal) ? concreteIndex[stem.Length..] : null;
    }

    /// <summary>
    /// Whether <paramref name="concreteIndex"/> is a view index of this prefix made under another schema version (by
    /// another release): <c>{prefix}-{view}-v{other}-{generation}</c>. An index named otherwise is not ours to replace.
    /// </summary>
    public bool IsOtherSchema(ViewIndex view, string concreteIndex) => OtherSchemaOf(view, concreteIndex) is not null;

    /// <summary>The schema version of a view index of another schema (see <see cref="IsOtherSchema"/>), else null.</summary>
    public int? OtherSchemaOf(ViewIndex view, string concreteIndex)
    {
        var stem = $"{Prefix}-{Name(view)}-v";
        if (!concreteIndex.StartsWith(stem, StringComparison.Ordinal) || GenerationOf(view, concreteIndex) is not null) return null;
        var version = concreteIndex[stem.Length..].Split('-', 2)[0];
        return version.Length is > 0 and < 10 && version.All(char.IsAsciiDigit) && concreteIndex.Length > stem.Length + version.Length + 1
            ? int.Parse(version, System.Globalization.CultureInfo.InvariantCulture)
            : null;
    }

    private static string Name(ViewIndex view) => view.ToString().ToLowerInvariant();

    /// <summary>
    /// Views are never refreshed on a timer (<c>refresh_interval: -1</c>): only the read store's own refresh after a whole
    /// batch makes writes searchable, so a search never sees part of a batch (half an append) that a timed refresh
    /// caught between two bulk requests, or the first part of a batch that failed.
    /// </summary>
    public const string ViewRefreshInterval = "-1";

    /// <summary>The body of <c>PUT /{index}</c>: shared settings, the view's strict mapping and, optionally, its alias.</summary>
    /// <param name="loading">A new generation about to be bulk-loaded: no replicas until <see cref="LoadedSettingsBody"/>.</param>
    public string CreateBody(ViewIndex view, bool withAlias, bool loading = false)
    {
        var settings = Resource("settings");
        if (loading) settings["number_of_replicas"] = 0;
        var body = new JsonObject
        {
            ["settings"] = settings,
            ["mappings"] = Resource(Name(view)),
        };
        if (withAlias) body["aliases"] = new JsonObject { [Alias(view)] = new JsonObject() };
        return body.ToJsonString();
    }

    /// <summary>Dead letters are written without a refresh of ours, so they keep a timed one to become listable.</summary>
    public static string DeadLettersBody()
    {
        var settings = Resource("settings");
        settings["refresh_interval"] = "1s";
        return new JsonObject { ["settings"] = settings, ["mappings"] = Resource("deadletters") }.ToJsonString();
    }

    /// <summary>The body of <c>PUT /{indices}/_settings</c> that brings views created before <see cref="ViewRefreshInterval"/> in line.</summary>
    public static string ViewSettingsBody() =>
        new JsonObject { ["index"] = new JsonObject { ["refresh_interval"] = ViewRefreshInterval } }.ToJsonString();

    /// <summary>
    /// The body of <c>PUT /{indices}/_settings</c> that ends a generation's bulk load: its replicas, copied once from the
    /// finished primaries rather than kept in step write by write, and the views' refresh rule restated.
    /// </summary>
    public static string LoadedSettingsBody(int replicas) =>
        new JsonObject { ["index"] = new JsonObject { ["number_of_replicas"] = replicas, ["refresh_interval"] = ViewRefreshInterval } }.ToJsonString();

    private static JsonNode Resource(string name)
    {
        using var stream = typeof(IndexLayout).Assembly.GetManifestResourceStream($"GrpcBank.Elasticsearch.Mappings.{name}.json")
            ?? throw new InvalidOperationException($"mapping resource {name}.json is missing");
        return JsonNode.Parse(stream)!;
    }
}
