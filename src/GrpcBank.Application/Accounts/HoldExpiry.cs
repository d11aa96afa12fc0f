using GrpcBank.Application.Commands;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain.Accounts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrpcBank.Application.Accounts;

/// <summary>
/// The bank releasing expired holds itself, with an event (<c>accounts.HoldExpired.v1</c>). Every
/// <see cref="PollInterval"/> it asks the read side's hold index (durable, rebuilt from the events, so a restart forgets
/// nothing) for active holds whose time is up by the injected clock, and sends each account an
/// <see cref="AccountCommand.ExpireHold"/>. The account decides on its own fold: never early (before the expiry it changes
/// nothing) and never twice (a hold already captured, released or expired is left alone), so asking again — after a
/// restart, from a second server, or because the read side has not yet seen the expiry — is harmless.
/// </summary>
/// <remarks>
/// The delay between a hold's expiry and its release is at most one poll interval plus the read side's lag (the index
/// learns of a hold when the read side applies its placement, long before it expires), or, while releasing fails (the
/// database is unreachable), the retry interval, which grows to <see cref="MaxRetryInterval"/>. Until the release the hold still
/// counts as held: it is not an available-balance trick at query time, and a capture after its expiry is refused.
/// </remarks>
public sealed class HoldExpiry(IReadStore readStore, Handlers handlers, TimeProvider clock, ILogger<HoldExpiry> log) : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private const int Batch = 500;

    private static readonly CommandContext Context = new(Principal: "bank:hold-expiry");

    /// <summary>
    /// The due holds this process has had answered for good by their accounts (expired, found resolved, or refused) that
    /// the read side still listed at the last look. It lists a hold as active until it applies the hold's resolution, so
    /// until then (a read side catching up, or one that set the event aside as a dead letter) each look would ask the
    /// account again, a fresh read of its stream, to find nothing to do; and 500 such holds, the first of every look,
    /// had the expiry look again at once, without end, never reaching the holds behind them. Bounded by what the read
    /// side lists: a hold it no longer lists is forgotten.
    /// </summary>
    private readonly HashSet<(string AccountId, string HoldId)> answered = [];

    private readonly Lock answeredGate = new();

    /// <summary>Releases the holds due now (by the clock), past those already answered; returns how many it asked their accounts about.</summary>
    public async Task<int> ExpireDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        int known;
        lock (answeredGate) known = answered.Count;
        var listed = await readStore.DueHoldsAsync(now, Batch + known, ct);
        List<HoldView> due;
        lock (answeredGate)
        {
            answered.IntersectWith(listed.Select(Key));
            due = [.. listed.Where(h => !answered.Contains(Key(h))).Take(Batch)];
        }
        foreach (var hold in due)
        {
            var outcome = await handlers.Accounts.HandleAsync(hold.AccountId, new AccountCommand.ExpireHold(hold.AccountId, hold.HoldId, now), Context,
                (state, _) => state.Holds.TryGetValue(hold.HoldId, out var h) && h.Status == HoldStatus.Active, ct);
            if (outcome is not CommandOutcome<bool>.Accepted)
                log.LogWarning("Hold {HoldId} of account {AccountId} was not expired: {Outcome}", hold.HoldId, hold.AccountId, outcome);
            // Still active after an accepted decision: not due yet by the account's own time (a read side that keeps
            // times to the millisecond lists it up to one early): ask again at the next look.
            if (outcome is CommandOutcome<bool>.Accepted { Reply: false } or CommandOutcome<bool>.Rejected) lock (answeredGate) answered.Add(Key(hold));
        }
        return due.Count;
    }

    private static (string, string) Key(HoldView hold) => (hold.AccountId, hold.HoldId);

    /// <summary>The longest wait between two tries while releasing fails (the store or the read side is unreachable).</summary>
    public static readonly TimeSpan MaxRetryInterval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var outage = new OutageLog(log);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var due = await ExpireDueAsync(stoppingToken);
                outage.Worked("Releasing expired holds works again");
                // A full batch means more may be due: go again at once.
                if (due >= Batch) continue;
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // The server stops: whatever failed meanwhile (a connection ended under the query as the stores close) is
                // the stop's doing. Let out of ExecuteAsync, it was logged as a failed BackgroundService and asked the
                // host to stop, the one thing a loop that retries through an outage must never do.
                return;
            }
            catch (Exception e)
            {
                // An outage fails every try: one warning (OutageLog), then quiet tries at doubling intervals, so an
                // unreachable database neither floods the log nor is hammered four times a second by every server.
                outage.Failed(e, "Releasing expired holds failed; trying again, at intervals growing to {MaxInterval}, until it works", MaxRetryInterval);
            }
            await Task.Delay(RetryInterval(outage.Failures), clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary><see cref="PollInterval"/>, doubled for each failed try after the first, at most <see cref="MaxRetryInterval"/>.</summary>
    public static TimeSpan RetryInterval(int failures) =>
        failures <= 1 ? PollInterval : TimeSpan.FromTicks(Math.Min(MaxRetryInterval.Ticks, PollInterval.Ticks << Math.Min(failures - 1, 16)));
}
