using System.Collections.Concurrent;
using System.Diagnostics;
using GrpcBank.Application;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Every span this process's hosts end, recorded while it lives: the bank's own, ASP.NET Core's and HttpClient's (so a
/// client's trace context reaches the server), and those of <paramref name="testSources"/>. The sources are process-wide:
/// a spec beside others counts only the spans of a trace of its own.
/// </summary>
public sealed class RecordedSpans : IDisposable
{
    private readonly ActivityListener listener;

    public RecordedSpans(params string[] testSources)
    {
        listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is Telemetry.Name or "Microsoft.AspNetCore" or "System.Net.Http" || testSources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
    }

    public ConcurrentQueue<Activity> Stopped { get; } = new();

    public void Dispose() => listener.Dispose();
}
