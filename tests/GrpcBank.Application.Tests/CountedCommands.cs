namespace GrpcBank.Application.Tests;

/// <summary>What a spec's own flow counts in <c>grpcbank.commands</c>.</summary>
internal static class CountedCommands
{
    /// <summary>The list the current flow's counts go to.</summary>
    private static readonly AsyncLocal<List<string>?> ThisFlow = new();

    /// <summary>
    /// The <c>grpcbank.commands</c> counts the calling spec's own flow makes ("command outcome"): the meter is process-wide and
    /// other specs count at the same time (with listeners of their own), but a counter's listener is called on the flow that counts.
    /// </summary>
    public static System.Diagnostics.Metrics.MeterListener Listen(List<string> counted)
    {
        ThisFlow.Value = counted;
        // Read before the listener starts (as GroupCommitSpecs' measurements do): the first read creates Telemetry's
        // instruments, and ones created inside the callback below, while the listener starts, are never published to it.
        var commands = Telemetry.Commands;
        var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument == commands) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            if (ThisFlow.Value != counted) return;
            var named = tags.ToArray().ToDictionary(t => t.Key, t => t.Value as string);
            lock (counted) counted.Add($"{named["command"]} {named["outcome"]}");
        });
        listener.Start();
        return listener;
    }
}
