using System.Reflection;
using System.Text.Json;
using GrpcBank.Contracts.Accounts.V1;

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

    [Fact]
    public async Task GivenATimeout_TailsForThatLong_AndEndsWithExitZero()
    {
        var run = await Ctl.RunAsync(bank.Host, "subscribe", "--timeout", "2", "--json");

        Assert.Equal((0, ""), (run.ExitCode, run.Stderr));
        Assert.NotEmpty(run.Lines);
        Assert.All(run.Lines, line => JsonDocument.Parse(line));
    }

    [Fact]
    public async Task InAPipelineWhoseReaderHasGone_EndsAtItsNextEvent_WithExitZero()
    {
        // As `bankctl subscribe | head -1` runs it: bankctl's own build, its output a pipe whose reader goes away.
        var bankctl = typeof(SubscribeSpecs).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BankctlDll").Value!;
        using var process = ChildProcess.Start("dotnet", [bankctl, "--server", bank.Host.GrpcUrl, "subscribe"], Path.GetTempPath());
        try
        {
            var first = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
            process.StandardOutput.Close();
            var accounts = new AccountService.AccountServiceClient(bank.Host.Channel);
            using var waited = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            // Each deposit is a live event to write into the closed pipe (the history may have fitted in its buffer).
            while (!process.HasExited && !waited.IsCancellationRequested)
            {
                await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = "s7-m001", AmountMinor = 1, CurrencyCode = "EUR" });
                await Task.Delay(500, CancellationToken.None);
            }

            Assert.NotNull(first);
            Assert.True(process.HasExited, "bankctl subscribe went on after the reader of its output had gone");
            var stderr = await process.StandardError.ReadToEndAsync(CancellationToken.None);
            Assert.True(process.ExitCode == 0, stderr);
            Assert.DoesNotContain("   at ", stderr);
        }
        finally
        {
            if (!process.HasExited) ChildProcess.KillTree(process);
        }
    }

    [Fact]
    public async Task RedirectedToAFileAmongOtherLines_WritesAfterThem_AndWhatFollowsComesAfterIt()
    {
        var bankctl = typeof(SubscribeSpecs).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BankctlDll").Value!;
        var file = Path.Combine(Path.GetTempPath(), $"bankctl-{Guid.NewGuid():N}.txt");
        try
        {
            var script = $"{{ echo before; dotnet '{bankctl}' --server {bank.Host.GrpcUrl} subscribe --max 2; echo after; }} > '{file}'";
            var run = await ChildProcess.RunAsync("sh", ["-c", script], TimeSpan.FromSeconds(60), Path.GetTempPath());

            var lines = await File.ReadAllLinesAsync(file, CancellationToken.None);
            Assert.True(lines.Length == 4 && lines[0] == "before" && lines[^1] == "after", string.Join("\n", lines) + run);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
