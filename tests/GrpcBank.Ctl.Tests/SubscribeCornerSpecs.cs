using GrpcBank.Contracts.Accounts.V1;

namespace GrpcBank.Ctl.Tests;

/// <summary>bankctl subscribe when its server goes away mid-tail.</summary>
public sealed class SubscribeCornerSpecs
{
    [Fact]
    public async Task AServerStoppingMidTail_EndsItSayingSo_WithTheCommandLineThatResumesAfterTheLastLinePrinted()
    {
        await using var host = await BankHost.StartEmbeddedAsync();
        for (var i = 0; i < 3; i++)
            await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = $"Ada {i}", CurrencyCode = "EUR" }, cancellationToken: TestContext.Current.CancellationToken);

        var tail = Ctl.RunAsync(host, "subscribe", "--prefix", "accounts.", "--from-position", "1");
        await Task.Delay(2_000, TestContext.Current.CancellationToken); // the history printed, waiting for live events
        await host.RestartAsync();
        var run = await tail.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var last = run.Lines[^1].Trim().Split(' ')[0];
        Assert.Equal("3", last);
        Assert.True(run.ExitCode == 1, run.Stderr);
        Assert.StartsWith("bankctl: the subscription ended: UNAVAILABLE", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("reason: SERVER_STOPPING", run.Stderr, StringComparison.Ordinal);
        Assert.EndsWith($"Resume with:  bankctl subscribe --from-position {last} --prefix accounts.", run.Stderr.TrimEnd(), StringComparison.Ordinal);
    }
}
