using Google.Rpc;
using GrpcBank.Application.EventStore;
using ReadSideRebuild = GrpcBank.Application.ReadSide.ReadSideRebuild;
using ReadStoreSink = GrpcBank.Application.ReadSide.ReadStoreSink;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Admin.V1;
using Grpc.Core;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>Projection status, zero-downtime rebuild and dead letters, through gRPC. Runs on each store.</summary>
public abstract class AdminSpecs : BankSpecs
{
    private ProjectionService.ProjectionServiceClient Admin => new(Host.Channel);

    /// <summary>What the server logs: the derived class starts its host with it.</summary>
    protected CapturedLogs Logs { get; } = new();

    /// <summary>What the server logged as errors (a warming-up server's health check logs none: it is NOT_SERVING, not failed).</summary>
    private IEnumerable<string> ErrorsLogged => Logs.Lines.Where(line => line.StartsWith("Error "));

    /// <summary>Every read-store generation that exists now (files, schemas), whether it serves or not.</summary>
    protected abstract Task<IReadOnlyList<string>> ReadStoreGenerationsAsync();

    /// <summary>
    /// Waits until the read side has <paramref name="position"/>. A replay reads what the event store has settled and ends
    /// where that ends; on PostgreSQL a transaction anywhere in the cluster (another test class's) can hold the newest
    /// positions back for a moment. The relay delivers an event only once it has settled, so a replay started afterwards
    /// reads everything up to it.
    /// </summary>
    private Task SettledAsync(string accountId, long position) =>
        Bank.Query.GetAccountAsync(new Contracts.Query.V1.GetAccountRequest { AccountId = accountId, MinPosition = position },
            deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync;

    private async Task<GetProjectionStatusResponse> CaughtUpStatusAsync()
    {
        GetProjectionStatusResponse? last = null;
        try
        {
            return await Bank.EventuallyAsync(async () =>
            {
                last = await Admin.GetProjectionStatusAsync(new GetProjectionStatusRequest());
                return last.Projections.All(p => p.LagEvents == 0 && p.State == ProjectionState.Running) ? last : null;
            });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the projections did not catch up; last status: {last}");
            throw;
        }
    }

    [Fact]
    public async Task Status_ShowsEveryConsumerRunning_CaughtUpWithTheHead_WithAHeartbeat()
    {
        await Bank.OpenAsync(deposit: 100);

        var status = await CaughtUpStatusAsync();

        Assert.Equal(["payment-process", "read-side"], status.Projections.Select(p => p.Name).Order());
        Assert.All(status.Projections, p =>
        {
            Assert.True(p.HeadPosition >= 2);
            Assert.Equal(p.HeadPosition, p.Position);
            Assert.Equal(0, p.LagSeconds);
            Assert.Equal(0, p.DeadLetters);
            Assert.True((DateTime.UtcNow - p.LastPassAt.ToDateTime()).TotalSeconds < 30);
        });
    }

    [Fact]
    public async Task Rebuild_ReplaysIntoANewReadSide_WhileCommandsContinue_AndLosesNothing()
    {
        var accounts = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Bank.OpenAsync(deposit: 1_000)));
        using var stop = new CancellationTokenSource();
        var deposits = new long[accounts.Length];
        var writers = accounts.Select((id, i) => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Bank.Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 1, CurrencyCode = "EUR" });
                Interlocked.Increment(ref deposits[i]);
            }
        })).ToArray();

        var phases = new List<RebuildPhase>();
        using (var call = Admin.RebuildProjections(new RebuildProjectionsRequest()))
            while (await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken))
                phases.Add(call.ResponseStream.Current.Phase);
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.Equal(RebuildPhase.Done, phases[^1]);
        Assert.Contains(RebuildPhase.Switched, phases);
        var head = await Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);
        for (var i = 0; i < accounts.Length; i++)
            Assert.Equal(1_000 + deposits[i], (await Bank.AccountAsync(accounts[i], head)).BalanceMinor);
    }

    [Fact]
    public async Task ManyRebuildsAtOnce_EachRunsOrIsRefusedWithRebuildRunning_NeverInternal()
    {
        await Bank.OpenAsync(deposit: 100);
        await RebuildAsync(); // the connection and the code paths warm, so that the calls below arrive together

        var outcomes = new List<string>();
        for (var round = 0; round < 5; round++)
        {
            var go = new TaskCompletionSource();
            var calls = Enumerable.Range(0, 48).Select(_ => Task.Run(async () =>
            {
                await go.Task;
                try
                {
                    return (await RebuildAsync())[^1].Phase.ToString();
                }
                catch (RpcException e)
                {
                    return $"{e.StatusCode} {e.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason}";
                }
            })).ToArray();
            go.SetResult();
            outcomes.AddRange(await Task.WhenAll(calls));
        }

        Assert.All(outcomes, outcome => Assert.Contains(outcome, new[] { "Done", "FailedPrecondition REBUILD_RUNNING" }));
        Assert.Contains("Done", outcomes);
        Assert.Empty(ErrorsLogged);
    }

    [Fact]
    public async Task ARebuildPastItsCallersDeadline_DropsItsNewGeneration_AndTheCurrentOneKeepsServing()
    {
        var id = await Bank.OpenAsync(deposit: 100);
        // The replay reports Replaying once it has applied a page; had it found nothing settled yet, it would report nothing
        // and wait at the held gate past the deadline.
        await SettledAsync(id, await Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None));
        var before = await ReadStoreGenerationsAsync();
        // The relay's gate held: the rebuild replays into its new generation, then waits to catch up and switch.
        var release = new TaskCompletionSource();
        var held = Host.Get<ReadStoreSink>().PausedAsync(async () => { await release.Task; return 0; }, CancellationToken.None);

        using (var call = Admin.RebuildProjections(new RebuildProjectionsRequest(), deadline: DateTime.UtcNow.AddSeconds(3)))
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(RebuildPhase.Replaying, call.ResponseStream.Current.Phase);
            Assert.Equal(before.Count + 1, (await ReadStoreGenerationsAsync()).Count);
            await Rpc.Fails(StatusCode.DeadlineExceeded, () => call.ResponseStream.MoveNext(CancellationToken.None));
        }
        await RebuildEndedAsync();
        release.SetResult();
        await held;

        Assert.Equal(before, await ReadStoreGenerationsAsync());
        // Read at the head: the current generation still serves, with the deposit.
        var head = await Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);
        Assert.Equal(100, (await Bank.AccountAsync(id, head)).BalanceMinor);
        Assert.Empty(ErrorsLogged);
    }

    [Fact]
    public async Task RebuildsCancelledByTheirCallerAtAnyMoment_EndQuietly_AndLeaveOnlyTheServingGeneration()
    {
        var id = await Bank.OpenAsync(deposit: 100);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await RebuildAsync();
        var whole = clock.Elapsed;

        // Ended at moments spread over a rebuild's life (while it replays, loads, switches, reports), by a deadline
        // (the server ends the call) or by the caller (it resets the stream).
        for (var i = 0; i < 24; i++)
        {
            var after = whole * i / 24 + TimeSpan.FromMilliseconds(1);
            using var cancel = new CancellationTokenSource(after);
            try
            {
                await RebuildAsync(i % 2 == 0 ? new CallOptions(deadline: DateTime.UtcNow + after) : new CallOptions(cancellationToken: cancel.Token));
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Cancelled or StatusCode.DeadlineExceeded)
            {
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.GetRpcStatus() is null && e.Status.DebugException is IOException)
            {
                // The transport's reading of the same end: a stream the deadline or the cancellation reset while the client
                // was reading its next message ("The request was aborted"). The bank's own UNAVAILABLE is a status the server
                // sends, not the client transport's IOException; what matters here, that the server ends the rebuild
                // quietly, is asserted below.
            }
            catch (RpcException e) when (e.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason == "REBUILD_RUNNING")
            {
                // The last call ended at the caller before its handler ran; the handler started its rebuild after the
                // wait below had seen none running (and that rebuild, its call gone, ends at once).
                i--;
            }
            await RebuildEndedAsync();
        }

        Assert.Empty(ErrorsLogged);
        var generations = await ReadStoreGenerationsAsync();
        Assert.True(generations.Count == 1, $"generations left: {string.Join(", ", generations)}");
        Assert.Equal(100, (await Bank.AccountAsync(id, await Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None))).BalanceMinor);
    }

    [Fact]
    public async Task QueriesWhileRebuildsSwitchTheReadSide_NeverFail()
    {
        var id = await Bank.OpenAsync(deposit: 100);
        await SettledAsync(id, await Host.Get<IEventStore>().HeadPositionAsync(CancellationToken.None));
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var answered = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Bank.Query.GetAccountAsync(new Contracts.Query.V1.GetAccountRequest { AccountId = id });
                    await Bank.Query.SearchAccountsAsync(new Contracts.Query.V1.SearchAccountsRequest());
                    Interlocked.Increment(ref answered);
                }
                catch (RpcException e)
                {
                    failures.Enqueue(e.Status.ToString());
                }
            }
        })).ToArray();

        for (var i = 0; i < 8; i++) await RebuildAsync();
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        Assert.Empty(failures);
        Assert.True(answered > 0);
    }

    [Fact]
    public async Task Rebuild_ReportsItsReplayAboutEveryTenthOfTheWay()
    {
        var id = await Bank.OpenAsync();
        // 12,000 deposits appended straight to the store in appends of 100: much quicker than as many commands.
        const int AppendSize = 100;
        var store = Host.Get<IEventStore>();
        var last = 0L;
        for (var version = 1; version < 12_000; version += AppendSize)
            last = ((AppendResult.Appended)await store.AppendAsync(new AppendRequest($"account-{id}", version,
                [.. Enumerable.Range(0, AppendSize).Select(_ => new EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1",
                    $$"""{"accountId":"{{id}}","amountMinor":1,"currencyCode":"EUR","reference":"r"}""", "{}"))],
                null, DateTimeOffset.UtcNow), CancellationToken.None)).Position;
        // A replay that found only part of them settled would report only its part (the rest comes in the catch-up).
        await SettledAsync(id, last);

        var replaying = (await RebuildAsync()).Where(m => m.Phase == RebuildPhase.Replaying).ToList();

        var target = replaying[0].TargetPosition;
        Assert.True(target >= 12_000, $"head {target}");
        Assert.True(replaying.Count >= 10, $"{replaying.Count} reports: {string.Join(", ", replaying.Select(r => r.ReplayedEvents))}");
        // A page ends where an append ends, so it may hold the rest of the append it would have cut.
        Assert.All(replaying.Zip(replaying.Skip(1), (a, b) => b.ReplayedEvents - a.ReplayedEvents), step => Assert.InRange(step, 1, target / 10 + AppendSize));
        Assert.Equal(12_000, (await Bank.AccountAsync(id, minPosition: target)).BalanceMinor);
    }

    /// <summary>Runs a rebuild to its end; returns every progress message.</summary>
    private async Task<List<RebuildProjectionsResponse>> RebuildAsync(CallOptions options = default)
    {
        // Only the server whose relay runs rebuilds (RELAY_NOT_HERE elsewhere); over PostgreSQL its relay takes the lease
        // a moment after the server starts.
        await Bank.EventuallyAsync(() => Task.FromResult(Host.Get<GrpcBank.Application.Relay.RelayProgress>().IsActive ? "active" : null));
        var messages = new List<RebuildProjectionsResponse>();
        using var call = Admin.RebuildProjections(new RebuildProjectionsRequest(), options);
        while (await call.ResponseStream.MoveNext(CancellationToken.None)) messages.Add(call.ResponseStream.Current);
        return messages;
    }

    /// <summary>Waits until no rebuild runs on the server (a cancelled one ends a moment after its call).</summary>
    private Task RebuildEndedAsync() =>
        Bank.EventuallyAsync(() => Task.FromResult(Host.Get<ReadSideRebuild>().IsRunning ? null : "ended"));

    [Fact]
    public async Task AnEventTheConsumersCannotRead_IsDeadLettered_AndTheRestKeepsFlowing()
    {
        // Both consumers read a payment's debit (the payment process reacts to saga-settled ones).
        var first = await AppendUnreadableAsync("accounts.PaymentDebited.v2", """{"movement":"lots"}""");
        var other = await Bank.OpenAsync(deposit: 7);

        var deadLetters = await Bank.EventuallyAsync(async () =>
        {
            var page = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest());
            // The count and the page are two reads: wait for the page itself to hold both consumers' letters.
            return page.DeadLetters.Count == 2 && page.TotalSize == 2 ? page : null;
        });
        var status = await CaughtUpStatusAsync();
        var retried = await Admin.RetryDeadLettersAsync(new RetryDeadLettersRequest());

        Assert.Equal(["payment-process", "read-side"], deadLetters.DeadLetters.Select(d => d.Consumer).Order());
        Assert.All(deadLetters.DeadLetters, d => Assert.Equal(("accounts.PaymentDebited.v2", 3L), (d.EventType, d.Position - first + 1)));
        Assert.All(status.Projections, p => Assert.Equal(1, p.DeadLetters));
        Assert.Equal(7, (await Bank.AccountAsync(other)).BalanceMinor);
        Assert.Equal((0, 2), (retried.Retried, retried.Remaining));
    }

    [Fact]
    public async Task AnUnreadableEventOfAKindThePaymentProcessHasNoUseFor_IsDeadLetteredByTheReadSideAlone()
    {
        // The payment process never decodes a deposit (PaymentProcess.ReactsTo), so it cannot fail on one.
        await AppendUnreadableAsync("accounts.MoneyDeposited.v1", """{"amountMinor":"lots"}""");
        var other = await Bank.OpenAsync(deposit: 7);

        await Bank.EventuallyAsync(async () =>
        {
            var page = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest());
            return page.TotalSize > 0 ? page : null;
        });
        var status = await CaughtUpStatusAsync();
        var deadLetters = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest());

        var letter = Assert.Single(deadLetters.DeadLetters);
        Assert.Equal(("read-side", "accounts.MoneyDeposited.v1"), (letter.Consumer, letter.EventType));
        Assert.Equal(["payment-process: 0", "read-side: 1"], status.Projections.Select(p => $"{p.Name}: {p.DeadLetters}").Order());
        Assert.Equal(7, (await Bank.AccountAsync(other)).BalanceMinor);
    }

    [Fact]
    public async Task TheStatus_CountsEveryDeadLetter_PastAThousand()
    {
        var id = await Bank.OpenAsync();
        var store = Host.Get<IEventStore>();
        var appended = (AppendResult.Appended)await store.AppendAsync(new AppendRequest($"account-{id}", 1, [.. Enumerable.Range(0, 1_200).Select(_ =>
            new EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1", $$"""{"accountId":"{{id}}","amountMinor":1,"currencyCode":"EUR","reference":"r"}""", "{}"))],
            null, DateTimeOffset.UtcNow), CancellationToken.None);
        var events = await store.ReadStreamAsync($"account-{id}", 2, 2_000, CancellationToken.None);
        // Set aside by hand (as the relay would): 1,200 for the read side, and 3 for the payment process too, the first of
        // them on the 1,000th event, so that a page of a thousand letters ends between that event's two.
        foreach (var e in events) await store.DeadLetters.AddAsync("read-side", e, "test", DateTimeOffset.UtcNow, CancellationToken.None);
        foreach (var e in new[] { events[999], events[^2], events[^1] })
            await store.DeadLetters.AddAsync("payment-process", e, "test", DateTimeOffset.UtcNow, CancellationToken.None);

        var status = await CaughtUpStatusAsync();

        Assert.Equal(appended.Position, events[^1].Position);
        Assert.Equal(["payment-process: 3", "read-side: 1200"], status.Projections.Select(p => $"{p.Name}: {p.DeadLetters}").Order());
    }

    [Fact]
    public async Task PagingDeadLettersByAfterPosition_ListsEachOnce_WhenAPageEndsAmongOnePositionsLetters()
    {
        var id = await Bank.OpenAsync(deposit: 1);
        var store = Host.Get<IEventStore>();
        var events = await store.ReadStreamAsync($"account-{id}", 1, 10, CancellationToken.None);
        // Set aside by hand (as the relay would): both consumers on the first event, the read side alone on the second.
        foreach (var consumer in new[] { "payment-process", "read-side" })
            await store.DeadLetters.AddAsync(consumer, events[0], "test", DateTimeOffset.UtcNow, CancellationToken.None);
        await store.DeadLetters.AddAsync("read-side", events[1], "test", DateTimeOffset.UtcNow, CancellationToken.None);

        var listed = new List<string>();
        var after = 0L;
        for (var pages = 0; pages < 10; pages++)
        {
            var page = await Admin.ListDeadLettersAsync(new ListDeadLettersRequest { PageSize = 1, AfterPosition = after });
            if (page.DeadLetters.Count == 0) break;
            listed.AddRange(page.DeadLetters.Select(d => $"{d.Position - events[0].Position}: {d.Consumer}"));
            after = page.DeadLetters[^1].Position;
        }

        Assert.Equal(["0: payment-process", "0: read-side", "1: read-side"], listed);
    }

    /// <summary>
    /// Appends, as version 3 of a new account's stream, an event with a payload no version of the bank could have written
    /// (only a bug or a bad manual fix does this); returns the stream's first position.
    /// </summary>
    private async Task<long> AppendUnreadableAsync(string eventType, string dataJson)
    {
        var id = await Bank.OpenAsync(deposit: 100);
        var store = Host.Get<IEventStore>();
        var stream = await store.ReadStreamAsync($"account-{id}", 1, 10, CancellationToken.None);
        await store.AppendAsync(new AppendRequest($"account-{id}", stream.Count,
            [new EventData(Guid.NewGuid(), eventType, dataJson, "{}")], null, DateTimeOffset.UtcNow), CancellationToken.None);
        return stream[0].Position;
    }

    [Fact]
    public async Task MalformedAdminRequests_AreInvalidArgument()
    {
        await Rpc.Invalid(() => Admin.ListDeadLettersAsync(new ListDeadLettersRequest { PageSize = 5_000, AfterPosition = -1 }).ResponseAsync,
            "page_size", "after_position");
        await Rpc.Invalid(() => Admin.RetryDeadLettersAsync(new RetryDeadLettersRequest { Positions = { 7, -3 } }).ResponseAsync, "positions");
    }
}

public sealed class StoppedRelayAdminSpecs
{
    [Fact]
    public async Task Status_SaysStopped_WhenThisServerDoesNotRunTheRelay()
    {
        await using var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        await new Bank(host).OpenAsync();

        var status = await new ProjectionService.ProjectionServiceClient(host.Channel).GetProjectionStatusAsync(new GetProjectionStatusRequest());

        Assert.All(status.Projections, p => Assert.Equal((ProjectionState.Stopped, 1L), (p.State, p.LagEvents)));
    }
}

public sealed class PoisonAtStartUpSpecs
{
    [Fact]
    public async Task AnUnreadableEventMetWhileRebuildingAnEmptyReadSide_IsDeadLettered_AndTheRelayStillStarts()
    {
        await using var host = await BankHost.StartEmbeddedAsync(("Relay:Enabled", "false"));
        var bank = new Bank(host);
        var id = await bank.OpenAsync(deposit: 100);
        await host.Get<IEventStore>().AppendAsync(new AppendRequest($"account-{id}", 2,
            [new EventData(Guid.NewGuid(), "accounts.MoneyDeposited.v1", """{"amountMinor":"lots"}""", "{}")], null, DateTimeOffset.UtcNow),
            CancellationToken.None);
        var other = await bank.OpenAsync(deposit: 5);

        // Delete the read store: the relay rebuilds it from the event store before delivering the outbox.
        await host.RestartAsync(() =>
        {
            foreach (var file in Directory.GetFiles(host.DataDirectory, "read.db*")) File.Delete(file);
        }, ("Relay:Enabled", "true"));

        Assert.Equal(5, (await bank.AccountAsync(other, minPosition: 1)).BalanceMinor);
        Assert.Equal(100, (await bank.AccountAsync(id)).BalanceMinor);
        var deadLetters = await new ProjectionService.ProjectionServiceClient(host.Channel).ListDeadLettersAsync(new ListDeadLettersRequest());
        Assert.Contains(deadLetters.DeadLetters, d => d.Consumer == "read-side" && d.StreamId == $"account-{id}");
    }
}

/// <summary>
/// Two servers on one PostgreSQL database: a rebuild runs only where the relay runs. Elsewhere it could not pause the
/// relay, which keeps writing to the old read side, and what it wrote between the replay and the switch would be
/// missing from the new one for good (README, "Several servers, one bank").
/// </summary>
public sealed class RebuildOnAStandbySpecs(PostgresServer postgres)
{
    [Fact]
    public async Task StatusOnTheServerWithoutTheRelay_SaysStopped_AtTheBanksPositions_AsTheRelaysServerRecordedThem()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var holder = await BankHost.StartPostgresAsync(database);
        await new Bank(holder).OpenAsync(deposit: 100);
        await using var standby = await BankHost.StartPostgresAsync(database);
        // Appended after the standby started: its own relay never delivered it.
        await new Bank(holder).OpenAsync(deposit: 5);
        var head = await holder.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);

        // The holder's relay records its checkpoints at most once a second.
        var status = await Bank.EventuallyAsync(async () =>
            await new ProjectionService.ProjectionServiceClient(standby.Channel).GetProjectionStatusAsync(new GetProjectionStatusRequest()) is var s
            && s.Projections.All(p => p.Position == head) ? s : null);

        Assert.All(status.Projections, p => Assert.Equal((ProjectionState.Stopped, head, 0L), (p.State, p.HeadPosition, p.LagEvents)));
    }

    [Fact]
    public async Task ARebuildCalledOnTheServerWithoutTheRelay_IsRefusedWithRelayNotHere_AndRunsOnTheRelaysServer()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var holder = await BankHost.StartPostgresAsync(database);
        var id = await new Bank(holder).OpenAsync(deposit: 100);
        var head = await holder.Get<IEventStore>().HeadPositionAsync(CancellationToken.None);
        // Read through the holder's relay: it holds the lease before the standby starts.
        Assert.Equal(100, (await new Bank(holder).AccountAsync(id, head)).BalanceMinor);
        await using var standby = await BankHost.StartPostgresAsync(database);

        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = new ProjectionService.ProjectionServiceClient(standby.Channel).RebuildProjections(new RebuildProjectionsRequest());
            while (await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken)) { }
        });

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Equal("RELAY_NOT_HERE", refused.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason);
        Assert.Single(await PostgresServer.SchemasAsync(database, GrpcBank.Postgres.ReadStore.PostgresReadStoreGenerations.DefaultPrefix + "_g"));
        using var rebuilt = new ProjectionService.ProjectionServiceClient(holder.Channel).RebuildProjections(new RebuildProjectionsRequest());
        var phases = new List<RebuildPhase>();
        while (await rebuilt.ResponseStream.MoveNext(TestContext.Current.CancellationToken)) phases.Add(rebuilt.ResponseStream.Current.Phase);
        Assert.Equal(RebuildPhase.Done, phases[^1]);
        Assert.Equal(100, (await new Bank(standby).AccountAsync(id, head)).BalanceMinor);
    }
}
