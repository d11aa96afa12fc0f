using System.Text.Json;
using System.Text.Json.Serialization;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Ctl.Output;

namespace GrpcBank.Ctl.Top;

/// <summary>What <c>/metrics</c> said at one moment, reduced to the counters <c>bankctl top</c> shows.</summary>
public sealed record Scrape(DateTimeOffset At, double Commands, IReadOnlyDictionary<string, double> RejectedByReason, IReadOnlyDictionary<double, double> LatencyBuckets)
{
    private const string CommandsTotal = "grpcbank_commands_total";
    private const string LatencyBucket = "http_server_request_duration_seconds_bucket";

    public static Scrape Of(DateTimeOffset at, IReadOnlyList<Series> series) => new(
        at,
        series.Where(s => s.Name == CommandsTotal).Sum(s => s.Value),
        series.Where(s => s.Name == CommandsTotal && s.Label("outcome") == "rejected")
            .GroupBy(s => s.Label("reason")).ToDictionary(g => g.Key.Length > 0 ? g.Key : "UNKNOWN", g => g.Sum(s => s.Value)),
        series.Where(s => s.Name == LatencyBucket && IsBankCall(s.Label("http_route")))
            .GroupBy(s => MetricsText.TryValue(s.Label("le"), out var bound) ? bound : double.NaN).Where(g => !double.IsNaN(g.Key))
            .ToDictionary(g => g.Key, g => g.Sum(s => s.Value)));

    /// <summary>
    /// The bank's own commands and queries: not the admin calls (bankctl top's own status polls among them), not the
    /// long-lived history streams, not health checks, reflection or <c>/metrics</c>.
    /// </summary>
    private static bool IsBankCall(string route) =>
        route.StartsWith("/bank.", StringComparison.Ordinal) || route.StartsWith("/v1/", StringComparison.Ordinal)
        ? !route.StartsWith("/bank.admin.", StringComparison.Ordinal) && !route.StartsWith("/bank.history.", StringComparison.Ordinal)
        : false;
}

/// <summary>One line of <c>bankctl top</c>: rates over the last interval, and each consumer as the server reports it.</summary>
public sealed record TopSample(
    DateTimeOffset Time,
    double CommandsPerSecond,
    double? P50Ms,
    double? P99Ms,
    double RejectionsPerSecond,
    IReadOnlyList<ReasonSample> Rejections,
    IReadOnlyList<ConsumerSample> Consumers)
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static TopSample Between(Scrape before, Scrape after, GetProjectionStatusResponse status)
    {
        var seconds = Math.Max((after.At - before.At).TotalSeconds, 0.001);
        var buckets = after.LatencyBuckets.OrderBy(b => b.Key)
            .Select(b => (Bound: b.Key, Count: b.Value - before.LatencyBuckets.GetValueOrDefault(b.Key))).ToList();
        var reasons = after.RejectedByReason
            .Select(r => new ReasonSample(r.Key, (long)r.Value, Round(Math.Max(0, r.Value - before.RejectedByReason.GetValueOrDefault(r.Key)) / seconds)))
            .OrderByDescending(r => r.PerSecond).ThenByDescending(r => r.Total).ThenBy(r => r.Reason, StringComparer.Ordinal).ToList();
        return new TopSample(
            after.At,
            Round(Math.Max(0, after.Commands - before.Commands) / seconds),
            Round(Quantile(0.5, buckets) * 1000),
            Round(Quantile(0.99, buckets) * 1000),
            Round(reasons.Sum(r => r.PerSecond)),
            reasons,
            [.. status.Projections.Select(p => new ConsumerSample(p.Name, Format.Enum(p.State), p.LagEvents, Round(p.LagSeconds), p.DeadLetters,
                p.LastPassAt is null ? null : Round(Math.Max(0, (after.At - p.LastPassAt.ToDateTimeOffset()).TotalSeconds)), p.LastError))]);
    }

    /// <summary>Three decimals: a rate or a latency in ms needs no more, and a line of JSON stays readable.</summary>
    private static double Round(double value) => Math.Round(value, 3);

    private static double? Round(double? value) => value is { } v ? Round(v) : null;

    /// <summary>
    /// The <paramref name="q"/> quantile of cumulative bucket counts, as Prometheus' histogram_quantile estimates it
    /// (linear within the bucket it falls in; the highest finite bound when it falls in +Inf). Null without calls.
    /// </summary>
    public static double? Quantile(double q, IReadOnlyList<(double Bound, double Count)> cumulative)
    {
        if (cumulative.Count == 0 || cumulative[^1].Count <= 0) return null;
        var rank = q * cumulative[^1].Count;
        var (lower, below) = (0.0, 0.0);
        foreach (var (bound, count) in cumulative)
        {
            if (count >= rank)
            {
                if (double.IsPositiveInfinity(bound)) return lower;
                return count == below ? bound : lower + (bound - lower) * (rank - below) / (count - below);
            }
            (lower, below) = (bound, count);
        }
        return lower;
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}

public sealed record ReasonSample(string Reason, long Total, double PerSecond);

/// <param name="LastPassSecondsAgo">Seconds since the consumer's last relay pass (its heartbeat); null: none yet.</param>
public sealed record ConsumerSample(string Name, string State, long LagEvents, double LagSeconds, long DeadLetters, double? LastPassSecondsAgo, string LastError);
