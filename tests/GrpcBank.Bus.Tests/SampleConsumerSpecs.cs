using System.Text.RegularExpressions;
using GrpcBank.Application.EventStore;
using GrpcBank.Bus.RabbitMq;
using GrpcBank.Contracts.Accounts.V1;

namespace GrpcBank.Bus.Tests;

/// <summary>tools/bus-consumer/low_balance.py, the sample outside consumer, against the real server and broker.</summary>
public sealed partial class SampleConsumerSpecs(RabbitMqBroker broker)
{
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task TheSampleConsumer_PrintsOneLowBalanceNotice_AndDropsTheRedeliveredDuplicates()
    {
        var url = broker.Url;
        var check = await ChildProcess.RunAsync(Python, ["-c", "import pika"], TimeSpan.FromSeconds(30), Root);
        Assert.SkipWhen(check.ExitCode != 0, $"python3-pika is not installed (.ci/run installs it with apt): {check.Output}");
        var exchange = RabbitMqBroker.NewExchange();
        var state = Path.Combine(Path.GetTempPath(), $"grpcbank-low-balance-{Guid.NewGuid():N}.db");
        string[] consumer = ["tools/bus-consumer/low_balance.py", "--url", url, "--exchange", exchange, "--queue", $"low-balance-{Guid.NewGuid():N}", "--state", state];
        var declared = await ChildProcess.RunAsync(Python, [.. consumer, "--declare-only"], TimeSpan.FromSeconds(60), Root);
        Assert.True(declared.ExitCode == 0, declared.ToString());

        await using var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", url), ("Bus:RabbitMq:Exchange", exchange));
        var id = $"sample-{Guid.NewGuid():N}"[..16];
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Ada", CurrencyCode = "EUR" });
        await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 5_000, CurrencyCode = "EUR" });
        await host.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 4_500, CurrencyCode = "EUR" });
        var events = await host.Get<IEventStore>().ReadStreamAsync($"account-{id}", 1, 10, CancellationToken.None);
        // Published, then published again as after a relay crash between the broker's confirm and the checkpoint.
        await Eventually.Async(() => Task.FromResult(host.Get<Application.Relay.RelayProgress>().For(RabbitMqBusSink.SinkName).Watermark >= events[^1].Position ? "" : null));
        await host.Get<RabbitMqBusSink>().HandleAsync(events, 0, CancellationToken.None);

        var run = await ChildProcess.RunAsync(Python, [.. consumer, "--idle-exit", "3"], TimeSpan.FromSeconds(120), Root);
        File.Delete(state);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Single(Notice().Matches(run.Output), m => m.Groups["who"].Value == id && m.Groups["what"].Value == "5.00 EUR after accounts.MoneyWithdrawn.v1");
        Assert.Contains($"handled {2 * events.Count} messages, {events.Count} duplicates dropped", run.Output);
    }

    [GeneratedRegex(@"LOW BALANCE (?<who>\S+): (?<what>[^(]+) \(")]
    private static partial Regex Notice();

    private static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpcBank.sln"))) return dir.FullName;
        throw new InvalidOperationException("GrpcBank.sln not found above " + AppContext.BaseDirectory);
    }
}
