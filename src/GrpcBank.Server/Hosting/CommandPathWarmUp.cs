using System.Diagnostics;
using GrpcBank.Application.Commands;
using GrpcBank.Application.EventStore;
using GrpcBank.Domain.Accounts;
using GrpcBank.Server.Accounts;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Runs the command path once at start-up, before the server listens, so a restarted server's first command does not
/// pay for the process's first use of it: JIT compilation, the JSON metadata of every stored event type, the event
/// store's first queries (request log, snapshot, stream). Measured before it existed: the first deposit after a restart
/// took 200–650 ms on a 100,001-event stream that had a snapshot, and 10–50 ms on a fresh account, against 8 ms warm.
/// It writes nothing: a deposit to an account that does not exist is refused, and a refusal is not logged.
/// </summary>
public sealed class CommandPathWarmUp(Handlers handlers, IEventStore store, ILogger<CommandPathWarmUp> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            EventCodecs.Accounts.WarmUp();
            EventCodecs.Orders.WarmUp();
            EventCodecs.Payments.WarmUp();
            var nobody = $"warm-up-{Guid.NewGuid():N}";
            await store.FindRequestAsync(nobody, ct);
            await handlers.Accounts.HandleAsync(nobody, new AccountCommand.DepositMoney(nobody, 1, "EUR", "warm-up"),
                CommandContext.None, AccountReply.For(nobody), ct);
            logger.LogInformation("Command path warmed up in {Elapsed} ms", Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Only a head start: a store that is not reachable yet is the health check's business, not a reason not to start.
            logger.LogWarning(e, "Command path warm-up failed; the first command will pay for it");
        }
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
