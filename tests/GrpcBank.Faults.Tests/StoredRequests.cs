using System.Text.Json;
using Grpc.Net.Client;
using GrpcBank.Contracts.History.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>What the event store holds of each request: the accounts' events whose metadata names its request id.</summary>
public static class StoredRequests
{
    /// <summary>Per request id, the account and version of each of its events in the accounts' streams (read through HistoryService.ReadStream).</summary>
    public static async Task<Dictionary<string, List<(string Account, long Version)>>> ReadAsync(GrpcChannel channel, IEnumerable<string> accounts)
    {
        var history = new HistoryService.HistoryServiceClient(channel);
        var stored = new Dictionary<string, List<(string, long)>>();
        foreach (var account in accounts)
        {
            long from = 1;
            while (true)
            {
                var page = await history.ReadStreamAsync(new ReadStreamRequest { StreamId = $"account-{account}", FromVersion = from, MaxCount = 1_000 });
                foreach (var e in page.Events)
                {
                    using var metadata = JsonDocument.Parse(e.MetadataJson);
                    if (metadata.RootElement.TryGetProperty("requestId", out var id) && id.GetString() is { } requestId)
                        (stored.TryGetValue(requestId, out var events) ? events : stored[requestId] = []).Add((account, e.StreamVersion));
                }
                if (page.NextVersion == 0) break;
                from = page.NextVersion;
            }
        }
        return stored;
    }
}
