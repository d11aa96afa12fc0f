using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using GrpcBank.Application.Relay;

namespace GrpcBank.Application;

/// <summary>
/// The bank's own traces and metrics, with the BCL's diagnostics only (no OpenTelemetry package here): the host
/// decides whether anyone listens. Both are named <see cref="Name"/>; without a listener they cost next to nothing.
/// </summary>
public static class Telemetry
{
    public const string Name = "GrpcBank";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary>Commands handled, by aggregate, command type and outcome (accepted, rejected, conflict, request_id_reused).</summary>
    public static readonly Counter<long> Commands = Meter.CreateCounter<long>(
        "grpcbank.commands", "{command}", "Commands handled, by aggregate, command and outcome");

    private static readonly AsyncLocal<bool> unrecorded = new();

    /// <summary>
    /// Whether this flow's commands and appends go unmeasured: the server's own start-up warm-up runs commands no client
    /// sent, which would otherwise show in the metrics as accepted commands, rejections and group commits after every restart.
    /// </summary>
    public static bool IsUnrecorded => unrecorded.Value;

    /// <summary>Until disposed, this flow (and what it awaits) records no command or append metrics, and starts no span (<see cref="StartSpan"/>).</summary>
    public static IDisposable Unrecorded()
    {
        var before = unrecorded.Value;
        unrecorded.Value = true;
        return new Restore(() => unrecorded.Value = before);
    }

    /// <summary>
    /// A span of the bank's source, or none in an unrecorded flow: the start-up warm-up's made-up commands (refused
    /// deposits no client sent) must not reach a trace backend any more than the metrics.
    /// </summary>
    public static Activity? StartSpan(string name) => IsUnrecorded ? null : Source.StartActivity(name);

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    /// <summary>Counts one command in <see cref="Commands"/>; a rejection also with its public <paramref name="reason"/>.</summary>
    public static void CountCommand(string aggregate, string command, string outcome, string? reason = null)
    {
        if (IsUnrecorded) return;
        if (reason is null)
            Commands.Add(1, new("aggregate", aggregate), new("command", command), new("outcome", outcome));
        else
            Commands.Add(1, new("aggregate", aggregate), new("command", command), new("outcome", outcome), new("reason", reason));
    }

    /// <summary>How long an append to the event store took, in milliseconds, by result.</summary>
    public static readonly Histogram<double> AppendDuration = Meter.CreateHistogram<double>(
        "grpcbank.append.duration", "ms", "Time to append one command's events to the event store", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] });

    /// <summary>
    /// Appends written together by one group commit (one transaction, one commit), by result: <c>written</c> (the write
    /// returned; each append's own guard may still have failed it alone), <c>refused</c> (the database wrote none of it;
    /// a group of several is then written again append by append) or <c>failed</c> (its outcome is unknown).
    /// </summary>
    public static readonly Histogram<int> AppendGroupSize = Meter.CreateHistogram<int>(
        "grpcbank.append.group.size", "{append}", "Appends written together in one group commit (one transaction)", tags: null,
        new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192] });

    /// <summary>How long one group commit's write took (its statements and its commit), in milliseconds, by result.</summary>
    public static readonly Histogram<double> AppendGroupDuration = Meter.CreateHistogram<double>(
        "grpcbank.append.group.duration", "ms", "Time to write one group commit: its statements and its commit", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] });

    /// <summary>Records one group commit's write in <see cref="AppendGroupSize"/> and <see cref="AppendGroupDuration"/>.</summary>
    public static void RecordGroup(int appends, long startedAt, string result)
    {
        var tag = new KeyValuePair<string, object?>("result", result);
        AppendGroupSize.Record(appends, tag);
        AppendGroupDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalMilliseconds, tag);
    }

    /// <summary>Events the relay handed to a sink, by sink (the read side's count is the indexer's throughput).</summary>
    public static readonly Counter<long> RelayDelivered = Meter.CreateCounter<long>(
        "grpcbank.relay.delivered", "{event}", "Events delivered by the outbox relay, by sink");

    /// <summary>Events a sink could not handle and the relay set aside, by sink and event type.</summary>
    public static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>(
        "grpcbank.relay.dead_letters", "{event}", "Events dead-lettered by the outbox relay, by sink and event type");

    private static readonly ConcurrentDictionary<RelayProgress, byte> ActiveRelays = new();

    static Telemetry()
    {
        Meter.CreateObservableGauge("grpcbank.relay.lag", ObserveLag, "{event}",
            "Committed events not yet delivered by the active relay, by sink (head position minus the sink's watermark, or the checkpoint it resumed from)");
        Meter.CreateObservableGauge("grpcbank.relay.heartbeat", ObserveHeartbeat, "s",
            "Unix time of each consumer's last completed relay pass (0: none yet), by sink");
    }

    /// <summary>Reports this relay's lag while it is the active one (dispose to stop).</summary>
    public static IDisposable ReportLag(RelayProgress progress)
    {
        ActiveRelays[progress] = 0;
        return new Unregister(progress);
    }

    private static IEnumerable<Measurement<long>> ObserveLag() =>
        ActiveRelays.Keys.SelectMany(p => p.Consumers.Select(c =>
            new Measurement<long>(Math.Max(0, p.HeadPosition - c.Value.Handled), new KeyValuePair<string, object?>("sink", c.Key))));

    /// <summary>
    /// A consumer passes at least once a second while it works (an idle pass waits at most the poll interval), so an old
    /// heartbeat means a stuck or failing consumer even when its lag looks small (PITFALLS.md 9).
    /// </summary>
    private static IEnumerable<Measurement<double>> ObserveHeartbeat() =>
        ActiveRelays.Keys.SelectMany(p => p.Consumers.Select(c =>
            new Measurement<double>(c.Value.LastPassAt is { } at ? at.ToUnixTimeMilliseconds() / 1000.0 : 0,
                new KeyValuePair<string, object?>("sink", c.Key))));

    private sealed class Unregister(RelayProgress progress) : IDisposable
    {
        public void Dispose() => ActiveRelays.TryRemove(progress, out _);
    }

    /// <summary>
    /// With nobody listening to <see cref="Source"/>: an activity of no source, which nothing records, in
    /// <paramref name="parent"/>'s trace (null without a parent). The events its flow writes then carry a traceparent in
    /// that trace, as a client's command's events do with tracing off (ASP.NET Core starts an activity per request
    /// whether or not anyone listens, unless its hosting log is off), so a consumer of the events (the bus's CloudEvents) can follow a request through
    /// the steps it caused.
    /// </summary>
    public static Activity? ContinueUnrecorded(string name, ActivityContext parent) =>
        parent == default ? null : new Activity(name).SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags).Start();

    /// <summary>The W3C trace context of the current activity, for event metadata; null when nothing is traced.</summary>
    public static (string? TraceParent, string? TraceState) CurrentTraceContext() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? (current.Id, current.TraceStateString) : (null, null);

    /// <summary>The trace context stored in an event's metadata (see <c>CommandContext.MetadataJson</c>), if any.</summary>
    public static ActivityContext? StoredTraceContext(string metadataJson)
    {
        if (!metadataJson.Contains("\"traceparent\"", StringComparison.Ordinal)) return null;
        try
        {
            using var doc = JsonDocument.Parse(metadataJson);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("traceparent", out var parent) || parent.ValueKind != JsonValueKind.String) return null;
            var state = root.TryGetProperty("tracestate", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            return ActivityContext.TryParse(parent.GetString(), state, isRemote: true, out var context) ? context : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Starts the span of one relay delivery to one sink. A batch whose events all come from one trace continues
    /// that trace (the usual case: one command's events); a batch mixing traces starts its own trace with a link to
    /// each (at most <see cref="MaxLinks"/>), since a span has one parent and a 500-event batch may serve 500 requests.
    /// </summary>
    public static Activity? StartDelivery(string sink, IReadOnlyList<EventStore.RecordedEvent> events, long watermark)
    {
        if (!Source.HasListeners()) return null;
        var stored = events.Select(e => StoredTraceContext(e.MetadataJson)).ToList();
        var contexts = stored.OfType<ActivityContext>().DistinctBy(c => c.TraceId).Take(MaxLinks + 1).ToList();
        var activity = contexts.Count == 1 && stored.All(c => c is not null)
            ? Source.StartActivity($"relay deliver {sink}", ActivityKind.Consumer, contexts[0])
            : Source.StartActivity($"relay deliver {sink}", ActivityKind.Consumer, parentContext: default,
                links: contexts.Take(MaxLinks).Select(c => new ActivityLink(c)));
        activity?.SetTag("grpcbank.sink", sink);
        activity?.SetTag("grpcbank.event_count", events.Count);
        activity?.SetTag("grpcbank.watermark", watermark);
        if (events.Count > 0) activity?.SetTag("grpcbank.position.last", events[^1].Position);
        return activity;
    }

    public const int MaxLinks = 32;

    /// <summary>Marks an activity as failed by <paramref name="e"/>.</summary>
    public static void Failed(this Activity? activity, Exception e)
    {
        activity?.SetStatus(ActivityStatusCode.Error, e.Message);
        activity?.AddException(e);
    }
}
