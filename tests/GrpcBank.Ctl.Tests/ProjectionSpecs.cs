using System.Text.Json;

namespace GrpcBank.Ctl.Tests;

/// <summary>
/// bankctl projections and deadletters against the real bank.admin.v1.ProjectionService. They fail until the server
/// implements it (exit 1, UNIMPLEMENTED): run them with --filter-trait "needs=projection-service".
/// </summary>
[Trait("needs", "projection-service")]
public sealed class ProjectionSpecs(SeededBank bank) : IClassFixture<SeededBank>
{
    [Fact]
    public async Task Status_ListsTheReadSideAndThePaymentProcess_WithTheirPositionsAndTheHead()
    {
        var json = await Ctl.RunAsync(bank.Host, "--json", "projections", "status");
        var human = await Ctl.RunAsync(bank.Host, "projections", "status");

        Assert.True(json.ExitCode == 0, json.Stderr);
        var projections = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("projections").EnumerateArray().ToList();
        Assert.Equal(["payment-process", "read-side"], projections.Select(p => p.GetProperty("name").GetString()).Order());
        Assert.All(projections, p => Assert.True(long.Parse(p.GetProperty("headPosition").GetString()!) > 0));
        Assert.Equal(0, human.ExitCode);
        Assert.StartsWith("NAME", human.Lines[0]);
        Assert.Contains("LAG_EVENTS", human.Lines[0]);
        Assert.Contains(human.Lines, line => line.StartsWith("read-side") && line.Contains("running"));
    }

    [Fact]
    public async Task Rebuild_Redirected_ShowsItsProgressAsPlainLines_AndEndsWithTheTotals()
    {
        var run = await Ctl.RunAsync(bank.Host, "projections", "rebuild");

        Assert.True(run.ExitCode == 0, run.Stderr);
        // Not a terminal: a line per phase and tenth of the way instead of a live bar.
        Assert.Contains(run.Lines, line => System.Text.RegularExpressions.Regex.IsMatch(line, @"^\d{1,3}%  replaying  [\d,]+ / [\d,]+ events$"));
        Assert.Contains(run.Lines, line => line.StartsWith("100%  done"));
        Assert.Matches(@"^Rebuild done: replayed [\d,]+ events \(head was [\d,]+ when it began\) in [\d.]+ s\.$", run.Lines[^1]);
    }

    [Fact]
    public async Task Rebuild_Json_StreamsThePhasesInOrder_AndReplaysAtLeastTheTarget()
    {
        var run = await Ctl.RunAsync(bank.Host, "--json", "projections", "rebuild");

        Assert.True(run.ExitCode == 0, run.Stderr);
        var messages = run.Lines.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        var phases = messages.Select(m => m.GetProperty("phase").GetString()).Distinct().ToList();
        Assert.Equal(["REBUILD_PHASE_REPLAYING", "REBUILD_PHASE_SWITCHED", "REBUILD_PHASE_DONE"], phases);
        var done = messages[^1];
        Assert.True(long.Parse(done.GetProperty("replayedEvents").GetString()!) >= long.Parse(done.GetProperty("targetPosition").GetString()!));
    }

    [Fact]
    public async Task DeadLetters_OnAHealthyBank_NoneAreListed_AndRetryingRetriesNone()
    {
        var list = await Ctl.RunAsync(bank.Host, "deadletters", "list");
        var listJson = await Ctl.RunAsync(bank.Host, "--json", "deadletters", "list", "--max", "10");
        var retry = await Ctl.RunAsync(bank.Host, "deadletters", "retry");

        Assert.True(list.ExitCode == 0, list.Stderr);
        Assert.Equal("No dead letters (0 in all).", list.Stdout.Trim());
        Assert.Equal("0", JsonDocument.Parse(listJson.Stdout).RootElement.GetProperty("totalSize").GetString());
        Assert.Equal(0, retry.ExitCode);
        Assert.Equal("Retried 0; 0 dead letters remain.", retry.Stdout.Trim());
    }
}
