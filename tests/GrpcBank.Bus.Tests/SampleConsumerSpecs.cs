using System.Text.RegularExpressions;
using GrpcBank.Application.EventStore;
using GrpcBank.Bus.RabbitMq;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;

namespace GrpcBank.Bus.Tests;

/// <summary>tools/bus-consumer/low_balance.py, the sample outside consumer, against the real server and broker.</summary>
public sealed partial class SampleConsumerSpecs(RabbitMqBroker broker)
{
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task TheSampleConsumer_PrintsOneLowBalanceNotice_AndDropsTheRedeliveredDuplicates()
    {
        var consumer = await DeclareConsumerAsync();
        await using var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", broker.Url), ("Bus:RabbitMq:Exchange", consumer.Exchange));
        var id = $"sample-{Guid.NewGuid():N}"[..16];
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = "Ada", CurrencyCode = "EUR" });
        await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 5_000, CurrencyCode = "EUR" });
        await host.Accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = id, AmountMinor = 4_500, CurrencyCode = "EUR" });
        var events = await host.Get<IEventStore>().ReadStreamAsync($"account-{id}", 1, 10, CancellationToken.None);
        // Published, then published again as after a relay crash between the broker's confirm and the checkpoint.
        await Eventually.Async(() => Task.FromResult(host.Get<Application.Relay.RelayProgress>().For(RabbitMqBusSink.SinkName).Watermark >= events[^1].Position ? "" : null));
        await host.Get<RabbitMqBusSink>().HandleAsync(events, 0, CancellationToken.None);

        var output = await consumer.RunAsync();

        Assert.Single(Notice().Matches(output), m => m.Groups["who"].Value == id && m.Groups["what"].Value == "5.00 EUR after accounts.MoneyWithdrawn.v1");
        Assert.Contains($"handled {2 * events.Count} messages, {events.Count} duplicates dropped", output);
    }

    [Fact]
    public async Task TheSampleConsumer_CountsAPaidOrdersCapture_AsTheCustomersDebit()
    {
        // An order's money leaves the customer as accounts.HoldCaptured (PlaceOrder holds it, FulfillOrder captures it):
        // a consumer that misses it keeps the balance from before the purchase and never sees it fall.
        var consumer = await DeclareConsumerAsync();
        await using var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", broker.Url), ("Bus:RabbitMq:Exchange", consumer.Exchange));
        var (customer, merchant) = ($"buyer-{Guid.NewGuid():N}"[..16], $"shop-{Guid.NewGuid():N}"[..16]);
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = customer, OwnerName = "Ada", CurrencyCode = "EUR" });
        await host.Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = merchant, OwnerName = "Shop", CurrencyCode = "EUR" });
        await host.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = customer, AmountMinor = 5_000, CurrencyCode = "EUR" });
        var orders = new OrderService.OrderServiceClient(host.Channel);
        var order = await orders.PlaceOrderAsync(new PlaceOrderRequest
        {
            CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = 4_500, CurrencyCode = "EUR", Description = "book",
        });
        var paid = await orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId });
        await Eventually.Async(() => Task.FromResult(host.Get<Application.Relay.RelayProgress>().For(RabbitMqBusSink.SinkName).Watermark >= paid.Position ? "" : null));

        var output = await consumer.RunAsync();

        Assert.Single(Notice().Matches(output), m => m.Groups["who"].Value == customer && m.Groups["what"].Value == "5.00 EUR after accounts.HoldCaptured.v1");
    }

    /// <summary>The sample consumer on an exchange and queue of its own, its queue declared (so it gets every event).</summary>
    private async Task<SampleConsumer> DeclareConsumerAsync()
    {
        var url = broker.Url;
        var check = await ChildProcess.RunAsync(Python, ["-c", "import pika"], TimeSpan.FromSeconds(30), Root);
        Assert.SkipWhen(check.ExitCode != 0, $"python3-pika is not installed (.ci/run installs it with apt): {check.Output}");
        var exchange = RabbitMqBroker.NewExchange();
        var state = Path.Combine(Path.GetTempPath(), $"grpcbank-low-balance-{Guid.NewGuid():N}.db");
        string[] arguments = ["tools/bus-consumer/low_balance.py", "--url", url, "--exchange", exchange, "--queue", $"low-balance-{Guid.NewGuid():N}", "--state", state];
        var declared = await ChildProcess.RunAsync(Python, [.. arguments, "--declare-only"], TimeSpan.FromSeconds(60), Root);
        Assert.True(declared.ExitCode == 0, declared.ToString());
        return new SampleConsumer(exchange, arguments, state);
    }

    private sealed record SampleConsumer(string Exchange, string[] Arguments, string State)
    {
        /// <summary>Reads the queue until it has been idle for 3 s; returns what the consumer printed.</summary>
        public async Task<string> RunAsync()
        {
            var run = await ChildProcess.RunAsync(Python, [.. Arguments, "--idle-exit", "3"], TimeSpan.FromSeconds(120), Root);
            File.Delete(State);
            Assert.True(run.ExitCode == 0, run.ToString());
            return run.Output;
        }
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
