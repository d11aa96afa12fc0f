using System.Text.Json;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl subscribe: the live feed.</summary>
public sealed class SubscribeSpecs(SeededBank bank) : IClassFixture<SeededBank>
{
    [Fact]
    public async Task Max5Json_PrintsFiveJsonLines_InPositionOrder()
    {
        var run = await Ctl.RunAsync(bank.Host, "subscribe", "--max", "5", "--json");

        Assert.Equal(0, run.ExitCode);
        var positions = run.Lines.Select(line => long.Parse(JsonDocument.Parse(line).RootElement.GetProperty("position").GetString()!)).ToList();
        Assert.Equal([1L, 2, 3, 4, 5], positions);
    }

    [Fact]
    public async Task APrefix_KeepsOnlyThoseEventTypes_AfterTheGivenPosition()
    {
        var run = await Ctl.RunAsync(bank.Host, "subscribe", "--from-position", "3", "--prefix", "orders.", "--prefix", "payments.PaymentCompleted", "--max", "4");

        Assert.Equal(4, run.Lines.Length);
        Assert.All(run.Lines, line => Assert.Matches(@"^\d+\s+\S+Z\s+(order|payment)-\S+@\d+\s+(orders\.|payments\.PaymentCompleted)", line));
    }

    [Fact]
    public async Task Interrupted_WhileWaitingForLiveEvents_EndsCleanlyWithExitZero()
    {
        using var ctrlC = new CancellationTokenSource(TimeSpan.FromSeconds(2));

        var run = await Ctl.RunAsync(ctrlC.Token, "--server", bank.Host.GrpcUrl, "subscribe", "--prefix", "nothing.matches");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Stderr);
    }
}
