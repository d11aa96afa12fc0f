using System.Diagnostics;
using GrpcBank.Application.EventStore;
using GrpcBank.Bus.RabbitMq;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Admin.V1;

namespace GrpcBank.Bus.Tests;

/// <summary>
/// The bus when its broker is up but pushes back: a memory alarm (<c>rabbitmqctl set_vm_memory_high_watermark</c>) blocks
/// every publishing connection until it clears — each such spec has a RabbitMQ node of its own to raise the alarm on; and
/// a broker that refuses the server's exchange (declared by someone else as another type).
/// </summary>
public sealed class BrokerPushbackSpecs(RabbitMqBroker sharedBroker)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>A watermark no node stays under: the memory alarm goes off at once.</summary>
    private const string Alarm = "0.0000001";

    /// <summary>RabbitMQ's default watermark: the alarm clears.</summary>
    private const string NoAlarm = "0.6";

    [Theory]
    [InlineData("set_vm_memory_high_watermark", Alarm, NoAlarm, "memory")]
    [InlineData("set_disk_free_limit", "100000GB", "50MB", "disk")] // more free space than any disk has: the disk alarm
    public async Task ABrokerThatBlocksPublishers_StallsNoCommand_TheBusShowsFailingWithWhySoon_AndPublishesEverythingInOrderOnceItClears(
        string setting, string alarm, string noAlarm, string lowOn)
    {
        await using var node = await RabbitMqNode.CreateAsync();
        var exchange = RabbitMqBroker.NewExchange();
        await using var queue = await BusQueue.DeclareAsync(node.Url, exchange);
        await using var host = await BankHost.StartEmbeddedAsync(("Bus:RabbitMq:Url", node.Url), ("Bus:RabbitMq:Exchange", exchange));
        var ids = await MixedWorkload.OpenAccountsAsync(host.Channel, 4);
        await BusStatusAsync(host, s => s is { LagEvents: 0, Position: > 0 });

        await node.ControlAsync(setting, alarm);
        try
        {
            // Commands are answered as ever: the bus is behind the outbox, and the broker's block holds the bus alone.
            await MixedWorkload.RunAsync(host.Channel, ids, writers: 4, rounds: 12);
            // The bus says so soon, and why — not after the confirm timeout (30 s) of a publish the broker never read.
            var blocked = Stopwatch.StartNew();
            var failing = await BusStatusAsync(host, s => s.State == ProjectionState.Failing);
            Assert.True(blocked.Elapsed < TimeSpan.FromSeconds(20), $"the bus showed FAILING {blocked.Elapsed.TotalSeconds:0} s after the block");
            Assert.Contains("blocked", failing.LastError);
            Assert.Contains(lowOn, failing.LastError);
            Assert.True(failing.LagEvents > 0, "what waits is its lag");
        }
        finally
        {
            await node.ControlAsync(setting, noAlarm);
        }

        await queue.StartAsync();
        var (stored, received) = await Delivery.EverythingAsync(host.Get<IEventStore>(), queue, Patience);
        var repeats = received.Count - received.Select(r => r.Id).Distinct().Count();
        TestContext.Current.SendDiagnosticMessage($"{stored.Count} events stored, {received.Count} messages received, {repeats} repeats");
        Assert.Equal(stored.Select(e => e.EventId).Order(), received.Select(r => r.Id).Distinct().Order());
        Assert.Null(Delivery.FirstStreamOutOfOrder(received));
        await BusStatusAsync(host, s => s is { State: ProjectionState.Running, LagEvents: 0, LastError: "" });
    }

    [Fact]
    public async Task AServerStopped_WhileItsBrokerBlocksPublishers_ExitsWithinItsGrace()
    {
        await using var node = await RabbitMqNode.CreateAsync();
        var exchange = RabbitMqBroker.NewExchange();
        await using var server = await ServerProcess.StartAsync(
            ("Storage:DataDirectory", Directory.CreateTempSubdirectory("grpcbank-pushback-").FullName),
            ("Bus:RabbitMq:Url", node.Url), ("Bus:RabbitMq:Exchange", exchange));
        var ids = await MixedWorkload.OpenAccountsAsync(server.Channel, 1);
        Assert.True(await server.PrintedAsync("Event bus connected"), server.Log);

        await node.ControlAsync("set_vm_memory_high_watermark", Alarm);
        try
        {
            // The bus publishes this into the block and waits for a confirm that does not come.
            await new AccountService.AccountServiceClient(server.Channel).DepositMoneyAsync(
                new DepositMoneyRequest { AccountId = ids[0], AmountMinor = 1, CurrencyCode = "EUR" });
            await Task.Delay(TimeSpan.FromSeconds(2));

            var stopping = Stopwatch.StartNew();
            await server.TerminateAsync(TimeSpan.FromSeconds(20));
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the server took {stopping.Elapsed.TotalSeconds:0.0} s to stop");
        }
        finally
        {
            await node.ControlAsync("set_vm_memory_high_watermark", NoAlarm);
        }
    }

    [Fact]
    public async Task AnExchangeOfAnotherType_FailsTheBusSayingWhy_CommandsGoOn_AndTheRetriesBurnNoCpu()
    {
        // Someone declared the exchange as direct: the broker refuses the server's topic declaration on every try.
        var exchange = RabbitMqBroker.NewExchange();
        await using (var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(sharedBroker.Url) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
            await channel.ExchangeDeclareAsync(exchange, RabbitMQ.Client.ExchangeType.Direct, durable: false, autoDelete: false);
        await using var server = await ServerProcess.StartAsync(
            ("Storage:DataDirectory", Directory.CreateTempSubdirectory("grpcbank-pushback-").FullName),
            ("Bus:RabbitMq:Url", sharedBroker.Url), ("Bus:RabbitMq:Exchange", exchange));

        var ids = await MixedWorkload.OpenAccountsAsync(server.Channel, 2);
        var admin = new ProjectionService.ProjectionServiceClient(server.Channel);
        var failing = await Eventually.Async(async () =>
            (await admin.GetProjectionStatusAsync(new GetProjectionStatusRequest())).Projections.Single(p => p.Name == RabbitMqBusSink.SinkName)
                is { State: ProjectionState.Failing } bus ? bus : null);
        Assert.Contains("PRECONDITION_FAILED", failing.LastError);
        Assert.Contains(exchange, failing.LastError);
        Assert.True(await server.PrintedAsync("PRECONDITION_FAILED"), "the log says why too");

        // While it fails, the server idles: its retries are paced, not a loop. Commands are answered meanwhile.
        var before = CpuTime(server);
        var window = Stopwatch.StartNew();
        await MixedWorkload.RunAsync(server.Channel, ids, writers: 1, rounds: 6);
        await Task.Delay(TimeSpan.FromSeconds(5));
        var busy = (CpuTime(server) - before) / window.Elapsed;
        TestContext.Current.SendDiagnosticMessage($"the failing server used {busy:P1} of a core over {window.Elapsed.TotalSeconds:0.0} s");
        Assert.True(busy < 0.25, $"the server used {busy:P0} of a core while its bus failed");
    }

    [Fact]
    public async Task AUserWithoutPermissionOnTheVhost_FailsTheBusSayingWhy_AndCommandsGoOn()
    {
        await using var node = await RabbitMqNode.CreateAsync();
        await node.ControlAsync("add_user", "bank", "bank-password");
        // May connect to the vhost, but configure, write and read nothing in it: the exchange's declaration is refused.
        await node.ControlAsync("set_permissions", "-p", "/", "bank", "^$", "^$", "^$");
        await using var host = await BankHost.StartEmbeddedAsync(
            ("Bus:RabbitMq:Url", $"amqp://bank:bank-password@127.0.0.1:{node.Port}/"), ("Bus:RabbitMq:Exchange", RabbitMqBroker.NewExchange()));

        await MixedWorkload.OpenAccountsAsync(host.Channel, 2);
        var failing = await BusStatusAsync(host, s => s.State == ProjectionState.Failing);

        Assert.Contains("ACCESS_REFUSED", failing.LastError);
        Assert.DoesNotContain("bank-password", failing.LastError);
        Assert.True(failing.LagEvents > 0, "what waits is its lag");
    }

    /// <summary>The user and system CPU time the process has used (/proc/pid/stat, in clock ticks of 10 ms).</summary>
    private static TimeSpan CpuTime(ServerProcess server)
    {
        var stat = File.ReadAllText($"/proc/{server.ProcessId}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // After the command's ')': state is field 3, utime 14 and stime 15 (1-based) — here 0-based from state.
        var ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    private static async Task<ProjectionStatus> BusStatusAsync(BankHost host, Func<ProjectionStatus, bool> condition)
    {
        var admin = new ProjectionService.ProjectionServiceClient(host.Channel);
        return await Eventually.Async(async () =>
            (await admin.GetProjectionStatusAsync(new GetProjectionStatusRequest())).Projections.Single(p => p.Name == RabbitMqBusSink.SinkName)
                is var bus && condition(bus) ? bus : null);
    }
}
