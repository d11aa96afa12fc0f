using System.Diagnostics.Metrics;

namespace GrpcBank.Application.Tests;

/// <summary>What a spec's own flow measures on one of Telemetry's instruments.</summary>
internal static class FlowMeasurements
{
    /// <summary>The list the current flow's measurements go to.</summary>
    private static readonly AsyncLocal<List<string>?> ThisFlow = new();

    /// <summary>
    /// The measurements of <paramref name="instrument"/> the calling spec's own flow makes, each as
    /// <paramref name="describe"/> names it from its tags: the meter is process-wide and other specs measure at the same
    /// time (with listeners of their own), but a listener is called on the flow that measures. Pass the instrument read
    /// before this (as GroupCommitSpecs' measurements do): the first read creates Telemetry's instruments, and ones created
    /// inside the listener's callback, while it starts, are never published to it.
    /// </summary>
    public static MeterListener Listen<T>(Instrument<T> instrument, List<string> measured, Func<IReadOnlyDictionary<string, string?>, string> describe)
        where T : struct
    {
        ThisFlow.Value = measured;
        var listener = new MeterListener
        {
            InstrumentPublished = (published, l) =>
            {
                if (published == instrument) l.EnableMeasurementEvents(published);
            },
        };
        listener.SetMeasurementEventCallback<T>((_, _, tags, _) =>
        {
            if (ThisFlow.Value != measured) return;
            var named = tags.ToArray().ToDictionary(t => t.Key, t => t.Value as string);
            lock (measured) measured.Add(describe(named));
        });
        listener.Start();
        return listener;
    }

    /// <summary>The <c>grpcbank.commands</c> counts of the calling spec's flow, as "command outcome".</summary>
    public static MeterListener Commands(List<string> counted) =>
        Listen(Telemetry.Commands, counted, tags => $"{tags["command"]} {tags["outcome"]}");
}
