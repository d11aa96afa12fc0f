using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;
using Elastic.Transport;

namespace GrpcBank.Elasticsearch.Tests;

/// <summary>A request the adapter sent, as Elasticsearch would receive it.</summary>
public sealed record SentRequest(string Method, string Path, string Query, string Body);

/// <summary>
/// Stands in for a node: records every request and answers from canned responses. Rules marked once answer a single
/// time each, in the order given (a 429, then a success), before any standing rule; among standing rules the newest
/// wins. An unexpected request fails the test.
/// </summary>
public sealed class RecordingInvoker : IRequestInvoker
{
    private readonly InMemoryRequestInvoker inner = new(
        [], 200, null, "application/json",
        new Dictionary<string, IEnumerable<string>>(StringComparer.OrdinalIgnoreCase) { ["x-elastic-product"] = ["Elasticsearch"] });

    private readonly List<Rule> rules = [];

    public List<SentRequest> Sent { get; } = [];

    public ResponseFactory ResponseFactory => inner.ResponseFactory;

    public RecordingInvoker On(string method, string path, int status, string body, bool once = false)
    {
        lock (rules) rules.Add(new Rule(method, path, status, body, once));
        return this;
    }

    public RecordingInvoker On(string method, string path, string body) => On(method, path, 200, body);

    public static ElasticsearchClient Client(RecordingInvoker invoker) =>
        new(new ElasticsearchClientSettings(new SingleNodePool(new Uri("http://es.test:9200")), invoker));

    public void Dispose() { }

    public TResponse Request<TResponse>(Endpoint endpoint, BoundConfiguration boundConfiguration, PostData? postData)
        where TResponse : TransportResponse, new()
    {
        var (bytes, status) = Answer(endpoint, boundConfiguration, postData);
        return inner.BuildResponse<TResponse>(endpoint, boundConfiguration, postData, bytes, status, "application/json");
    }

    public Task<TResponse> RequestAsync<TResponse>(Endpoint endpoint, BoundConfiguration boundConfiguration, PostData? postData, CancellationToken cancellationToken)
        where TResponse : TransportResponse, new()
    {
        var (bytes, status) = Answer(endpoint, boundConfiguration, postData);
        return inner.BuildResponseAsync<TResponse>(endpoint, boundConfiguration, postData, cancellationToken, bytes, status, "application/json");
    }

    private (byte[], int) Answer(Endpoint endpoint, BoundConfiguration configuration, PostData? postData)
    {
        var body = "";
        if (postData is not null)
        {
            using var stream = new MemoryStream();
            postData.Write(stream, configuration.ConnectionSettings, disableDirectStreaming: true);
            body = Encoding.UTF8.GetString(stream.ToArray());
        }
        var method = endpoint.Method.ToString().ToUpperInvariant();
        var request = new SentRequest(method, Uri.UnescapeDataString(endpoint.Uri.AbsolutePath), Uri.UnescapeDataString(endpoint.Uri.Query), body);
        lock (rules)
        {
            Sent.Add(request);
            var rule = Match(method, request.Path)
                ?? throw new InvalidOperationException($"no canned answer for {method} {request.Path}{request.Query}");
            if (rule.Once) rules.Remove(rule);
            return (Encoding.UTF8.GetBytes(rule.Body), rule.Status);
        }
    }

    private Rule? Match(string method, string path) =>
        rules.FirstOrDefault(r => r.Once && r.Method == method && r.Path == path)
        ?? rules.LastOrDefault(r => !r.Once && r.Method == method && r.Path == path);

    /// <summary>What was sent, readable: one request a block, JSON bodies indented, NDJSON one line a document.</summary>
    public string Transcript(int skip = 0)
    {
        var text = new StringBuilder();
        foreach (var r in Sent.Skip(skip))
        {
            text.Append(r.Method).Append(' ').Append(r.Path).Append(r.Query).Append('\n');
            if (r.Body.Length == 0)
            {
                text.Append('\n');
                continue;
            }
            var lines = r.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (r.Path.EndsWith("/_bulk", StringComparison.Ordinal))
            {
                foreach (var line in lines) text.Append(line).Append('\n');
                text.Append(r.Body.EndsWith('\n') ? "(ends with a newline)\n" : "(NO TRAILING NEWLINE)\n");
            }
            else
            {
                text.Append(JsonNode.Parse(r.Body)!.ToJsonString(Indented)).Append('\n');
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed record Rule(string Method, string Path, int Status, string Body, bool Once);
}
