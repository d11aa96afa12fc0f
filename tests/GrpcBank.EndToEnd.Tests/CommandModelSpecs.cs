using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;
using static GrpcBank.EndToEnd.Tests.CommandModel;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// Differential, on the write side: a seeded random run of account, hold, limit, restriction, freeze, close, transfer,
/// refund, order and batch commands (independent and atomic), many of them refused or on a boundary (exactly the available
/// balance, one more, exactly the overdraft limit, a hold or an order's authorisation at its exact expiry by the spec's
/// clock, and a microsecond before it; the bank's own expiry cancelling the order). Each answer is
/// checked against <see cref="CommandModel"/>, worked out from the documented rules alone; a refusal or a no-op must
/// leave the event store's head where it was, and every account a command named must read back as the model has it.
/// Accepted requests are sent again under their request id (the first answer, nothing written) or their id on another
/// request (REQUEST_ID_REUSED, nothing written), alone or inside a batch. A failure prints the seed: set GRPCBANK_MODEL_SEED to it to run that case again, and keep it below as a fixed case.
/// </summary>
public abstract class CommandModelSpecs : ClockedBankSpecs
{
    private const int Steps = 160;

    [Fact]
    public Task EveryCommand_AnswersWhatTheRulesSay_AndRefusalsWriteNothing_ForARandomRun() => RunAsync(ModelSeed.FromEnvironmentOrNew());

    [Theory]
    [InlineData(1)]
    [InlineData(510)]
    public Task EveryCommand_AnswersWhatTheRulesSay_AndRefusalsWriteNothing_ForAKeptSeed(int seed) => RunAsync(seed);

    /// <summary>Found by this model: a negative limit was refused at the edge without the rule's reason, which a limit too large had.</summary>
    [Fact]
    public async Task AnOverdraftLimitOutOfRange_IsInvalidOverdraftLimit_NamingLimitMinor_BelowZeroAsAboveTheMost()
    {
        var account = await Bank.OpenAsync();
        foreach (var limit in new[] { -1, MaxAmountMinor + 1 })
            await Rpc.InvalidFor("INVALID_OVERDRAFT_LIMIT", "limit_minor",
                () => Host.Accounts.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = account, LimitMinor = limit }).ResponseAsync);
    }

    /// <summary>Rare at random: a merchant emptied and closed while an order waits on it; the order stays AUTHORIZED until cancelled.</summary>
    [Fact]
    public async Task AnOrderWhoseMerchantClosedSinceItWasPlaced_IsNotPaid_AndCancellingItReleasesTheHold()
    {
        var run = new Run(Host, Clock, seed: 0);
        await run.ScriptAsync(
            new Open("c", "EUR"), new Open("m", "EUR"), new Deposit("c", 1_000, "EUR"),
            new PlaceOrder("o", "c", "m", 600, "EUR", TimeSpan.FromHours(1)), new Close("m"),
            new FulfillOrder("o"), new CancelOrder("o", "merchant gone"), new FulfillOrder("o"), new Withdraw("c", 1_000, "EUR"));
        await run.CompareEverythingAsync();
        Assert.Equal("FulfillOrder ACCOUNT_CLOSED 1", run.Tally.Split(", ").Single(t => t.StartsWith("FulfillOrder ACCOUNT_CLOSED", StringComparison.Ordinal)));
    }

    private async Task RunAsync(int seed)
    {
        ModelSeed.Print(seed);
        var run = new Run(Host, Clock, seed);
        await run.StepsAsync(Steps);
        await run.CompareEverythingAsync();
        TestContext.Current.TestOutputHelper?.WriteLine($"answers: {run.Tally}");
    }

    /// <summary>One run: the bank, the model of it, and what the generator may name.</summary>
    private sealed class Run(BankHost host, ManualClock clock, int seed)
    {
        private readonly Random random = new(seed);
        private readonly IEventStore store = host.Get<IEventStore>();
        private readonly AccountService.AccountServiceClient accounts = host.Accounts;
        private readonly PaymentService.PaymentServiceClient payments = new(host.Channel);
        private readonly BatchService.BatchServiceClient batches = new(host.Channel);
        private readonly OrderService.OrderServiceClient orders = new(host.Channel);
        private readonly List<(string Account, string Hold)> holds = [];
        private readonly SortedDictionary<string, int> answered = [];
        private readonly List<(IMessage Request, Command Command, Answer Answer)> logged = [];
        private CommandModel model = CommandModel.Empty;
        private long head;
        private int step;
        private int next;

        private DateTimeOffset Now => clock.GetUtcNow();

        /// <summary>How often each kind of command got each answer: what the run covered.</summary>
        public string Tally => string.Join(", ", answered.Select(a => $"{a.Key} {a.Value}"));

        private void Count(object command, Answer answer)
        {
            var key = $"{command.GetType().Name} {(answer.IsOk ? answer.Order ?? "OK" : answer.Reason)}";
            answered[key] = answered.GetValueOrDefault(key) + 1;
        }

        public async Task StepsAsync(int steps)
        {
            for (var i = 0; i < 3; i++) await OneAsync(new Open(NewId("a"), "EUR"));
            for (step = 0; step < steps; step++)
            {
                await MoveTheClockAsync();
                if (random.Next(14) == 0) await BatchAsync(random.Next(2) == 0);
                else if (random.Next(10) == 0 && logged.Count > 0) await RetryAsync();
                else await OneAsync(NextCommand());
            }
        }

        /// <summary>These commands, one by one, each against the model.</summary>
        public async Task ScriptAsync(params Command[] commands)
        {
            foreach (var command in commands) await OneAsync(command);
        }

        public async Task CompareEverythingAsync()
        {
            await ExpireDueAsync();
            await CompareAccountsAsync(model.Accounts.Keys, "at the end");
            await CompareOrdersAsync(model.Orders.Keys, "at the end");
            foreach (var payment in model.Payments.Values)
            {
                var read = (await host.Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = payment.Id, MinPosition = head })).Payment;
                Assert.True((payment.Status.ToString().ToUpperInvariant(), payment.Version) == (read.Status.ToString().ToUpperInvariant(), read.Version),
                    $"seed {seed}: payment {payment.Id}: the model says {payment.Status} v{payment.Version}, the bank {read.Status} v{read.Version}");
            }
        }

        private string NewId(string kind) => $"{kind}{next++}";

        private T Any<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

        private IReadOnlyList<string> Known => [.. model.Accounts.Keys];

        /// <summary>A known account mostly, now and then one that does not exist.</summary>
        private string AnyAccount() => random.Next(25) == 0 ? "nobody"
            : random.Next(6) > 0 && model.Accounts.Values.Where(a => a.Status != CommandModel.Status.Closed).Select(a => a.Id).ToList() is { Count: > 0 } open ? Any(open)
            : Any(Known);

        private string Other(string account) => Known.Count > 1 ? Any([.. Known.Where(a => a != account)]) : "nobody";

        private AccountModel? Of(string account) => model.Accounts.GetValueOrDefault(account);

        private string CurrencyOf(string account) => random.Next(12) == 0 ? (Of(account)?.CurrencyCode == "USD" ? "EUR" : "USD") : Of(account)?.CurrencyCode ?? "EUR";

        /// <summary>An amount to take out: on the boundary (all that may go, one more, the whole balance) or anywhere below it.</summary>
        private long DebitAmount(string account)
        {
            var debitable = Of(account)?.DebitableMinor ?? 1_000;
            return random.Next(6) switch
            {
                0 => debitable,
                1 => debitable + 1,
                2 => Of(account)?.BalanceMinor ?? 1,
                3 => random.Next(1, 200),
                _ => random.NextInt64(1, Math.Max(2, debitable + 1)),
            };
        }

        private long CreditAmount() => random.Next(20) == 0 ? MaxAmountMinor : random.Next(3) == 0 ? random.Next(1, 100) : random.Next(100, 60_000);

        /// <summary>Now and then an amount no movement may have.</summary>
        private long Malformed(long amount) => random.Next(60) switch { 0 => 0, 1 => -amount, 2 => MaxAmountMinor + 1, _ => amount };

        /// <summary>Mostly none; now and then the account's version (0 for none), or one next to it.</summary>
        private long? ExpectedVersion(string account)
        {
            var version = Of(account)?.Version ?? 0;
            return random.Next(10) switch { 0 => version, 1 => version + 1, 2 when version > 0 => version - 1, _ => null };
        }

        private Command NextCommand()
        {
            var account = AnyAccount();
            var waiting = model.Orders.Values.Where(o => o.Status == CommandModel.OrderStatus.Authorized).ToList();
            // Now and then a merchant an order waits on: fulfilment judges what changed since (credits blocked, closed).
            if (waiting.Count > 0 && random.Next(10) == 0)
            {
                account = Any(waiting).MerchantAccountId;
                // Emptied, then closed: its order can no longer be paid.
                if (random.Next(2) == 0 && Of(account) is { Status: not CommandModel.Status.Closed, HeldMinor: 0 } merchant)
                    return merchant.BalanceMinor > 0 ? new Withdraw(account, merchant.BalanceMinor, merchant.CurrencyCode) : new Close(account);
            }
            var activeHolds = holds.Where(h => Of(h.Account)?.Holds[h.Hold].Outcome == HoldOutcome.Active).ToList();
            switch (random.Next(30))
            {
                case 0 or 19: return new Open(random.Next(8) == 0 ? account : NewId("a"), random.Next(4) == 0 ? "USD" : "EUR");
                case 1 or 2 or 3: return new Deposit(account, Malformed(CreditAmount()), CurrencyOf(account), ExpectedVersion(account));
                case 4 or 5: return new Withdraw(account, Malformed(DebitAmount(account)), CurrencyOf(account), ExpectedVersion(account));
                case 6: return random.Next(3) == 0 ? new Freeze(account) : new Unfreeze(account);
                case 7 when random.Next(3) == 0: return new Close(account);
                case 8 or 9:
                    if (random.Next(6) == 0 && holds.Count > 0 && Of(Any(holds).Account) is { } holder)
                    {
                        // The same hold again (a no-op) or another under its id.
                        var (_, id) = holds.First(h => h.Account == holder.Id);
                        var same = holder.Holds[id];
                        return new PlaceHold(holder.Id, id, same.AmountMinor + (random.Next(2) == 0 ? 0 : 1), same.CurrencyCode, same.Reference, same.ExpiresAt);
                    }
                    var hold = NewId("h");
                    // Now (too soon), the longest a hold may last, a microsecond more, or minutes to days.
                    var expiresAt = random.Next(20) switch
                    {
                        0 => Now, 1 => Now + MaxHoldLifetime, 2 => Now + MaxHoldLifetime + TimeSpan.FromTicks(TimeSpan.TicksPerMicrosecond),
                        _ => Now.AddMinutes(random.Next(1, 3 * 24 * 60)),
                    };
                    return new PlaceHold(account, hold, Malformed(DebitAmount(account)), CurrencyOf(account), $"auth {hold}", expiresAt);
                case 10 or 11 when activeHolds.Count > 0 || holds.Count > 0:
                    var (capturer, captured) = Any(activeHolds.Count > 0 && random.Next(4) > 0 ? activeHolds : holds);
                    var held = Of(capturer)!.Holds[captured].AmountMinor;
                    return new Capture(capturer, captured, random.Next(4) switch { 0 => 0, 1 => held, 2 => held + 1, _ => random.NextInt64(1, held + 1) });
                case 12 when holds.Count > 0:
                    var (releaser, released) = Any(holds);
                    return new Release(releaser, random.Next(10) == 0 ? "h-none" : released);
                case 13:
                    // Exactly what is drawn below zero (the least the limit may be), one less, or a limit no account may have.
                    var drawn = -Math.Min(0, Of(account)?.AvailableMinor ?? 0);
                    return new SetOverdraftLimit(account, random.Next(8) switch
                    {
                        0 => drawn, 1 => drawn - 1, 2 => MaxAmountMinor + 1, 3 => 0, _ => random.Next(1, 5) * 5_000,
                    });
                case 14 when random.Next(2) == 0:
                    var blocks = random.Next(7);
                    return new Restrict(account, (blocks & 1) != 0, (blocks & 2) != 0, random.Next(2) == 0 ? "review" : "fraud");
                case 15: return new LiftRestriction(account);
                case 16 or 17 or 20 or 21:
                    var paymentId = random.Next(12) == 0 && model.Payments.Count > 0 ? Any([.. model.Payments.Keys]) : NewId("p");
                    return new Transfer(paymentId, account, Other(account), Malformed(DebitAmount(account)), CurrencyOf(account));
                case 18 when model.Payments.Count > 0:
                    return new Refund(random.Next(10) == 0 ? "p-none" : Any([.. model.Payments.Keys]));
                case 22 or 24 or 25: return NewOrder(account);
                case 23 or 26 or 27 when model.Orders.Count > 0:
                    return new FulfillOrder(random.Next(12) == 0 ? "o-none" : waiting.Count > 0 && random.Next(6) > 0 ? Any(waiting).Id : Any([.. model.Orders.Keys]));
                case 28 when model.Orders.Count > 0:
                    return new CancelOrder(random.Next(12) == 0 ? "o-none" : Any([.. model.Orders.Keys]), "changed mind");
                case 29 when model.Orders.Count > 0:
                    // An order's own hold, which only its order may move.
                    var order = model.Orders[Any([.. model.Orders.Keys])];
                    return random.Next(3) switch
                    {
                        0 => new PlaceHold(order.CustomerAccountId, random.Next(2) == 0 ? order.HoldId : $"{OrderPrefix}{NewId("h")}", order.AmountMinor, order.CurrencyCode,
                            "mine", Now.AddHours(1)),
                        1 => new Capture(order.CustomerAccountId, order.HoldId, 0),
                        _ => new Release(order.CustomerAccountId, order.HoldId),
                    };
            }
            return new Deposit(account, CreditAmount(), CurrencyOf(account));
        }

        /// <summary>
        /// An order from <paramref name="customer"/> to another account (now and then one that does not exist, the
        /// customer's own, or an order id taken), for an amount at the customer's boundary, authorised for the default
        /// time, the longest, a microsecond more, none, or minutes to days.
        /// </summary>
        private PlaceOrder NewOrder(string customer)
        {
            var id = random.Next(15) == 0 && model.Orders.Count > 0 ? Any([.. model.Orders.Keys]) : NewId("o");
            var merchant = random.Next(20) == 0 ? customer : Other(customer);
            var amount = Malformed(random.Next(3) == 0 ? DebitAmount(customer) : random.Next(1, 5_000));
            TimeSpan? ttl = random.Next(4) == 0 ? null : TimeSpan.FromMinutes(random.Next(1, 3 * 24 * 60));
            if (Math.Clamp(amount, 1, MaxAmountMinor) == amount && random.Next(10) == 0)
                ttl = Any([MaxHoldLifetime, MaxHoldLifetime + TimeSpan.FromTicks(TimeSpan.TicksPerMicrosecond), TimeSpan.Zero, TimeSpan.FromSeconds(-1)]);
            return new PlaceOrder(id, customer, merchant, amount, CurrencyOf(customer), ttl);
        }

        /// <summary>
        /// Time moves between commands. Sometimes to a hold's exact expiry (when it can no longer be captured, though the
        /// bank may not have released it yet), or to just before it. Holds that fall due are then released by the bank
        /// (one event each) before the next command, so no command races the bank's own expiry.
        /// </summary>
        private async Task MoveTheClockAsync()
        {
            var active = model.Accounts.Values.SelectMany(a => a.Holds.Where(h => h.Value.Outcome == HoldOutcome.Active).Select(h => (Account: a.Id, Hold: h.Key))).ToList();
            var choice = random.Next(8);
            if (choice < 2 && active.Count > 0)
            {
                var (account, hold) = Any(active);
                var expiresAt = model.Accounts[account].Holds[hold].ExpiresAt;
                clock.Advance(expiresAt - Now - (choice == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(TimeSpan.TicksPerMicrosecond)));
                // At the instant it is due the hold can no longer be taken; a microsecond before, an order's still can.
                Command? take = model.Orders.Values.FirstOrDefault(o => o.CustomerAccountId == account && o.HoldId == hold) is { } order
                    ? choice == 0 || random.Next(2) == 0 ? new FulfillOrder(order.Id) : null
                    : choice == 0 ? new Capture(account, hold, 0) : null;
                if (take is not null) await OneAsync(take, headMayMove: choice == 0);
            }
            else if (choice == 2) clock.Advance(TimeSpan.FromMilliseconds(random.NextInt64(1, 2L * 86_400_000)));
            else return;

            var expiring = model.Accounts.Values.Where(a => a.Holds.Values.Any(h => h.Outcome == HoldOutcome.Active && h.ExpiresAt <= Now)).Select(a => a.Id).ToList();
            if (expiring.Count == 0) return;
            await ExpireDueAsync();
            await CompareAccountsAsync(expiring, "after the bank released the holds due");
        }

        /// <summary>
        /// Waits for the bank's expiry of the holds due and for the payment process to cancel the orders they
        /// authorised (both in the background), then takes the model there.
        /// </summary>
        private async Task ExpireDueAsync()
        {
            var after = model.ExpireDue(Now);
            var lapsing = after.Orders.Values.Where(o => model.Orders[o.Id] != o).ToList();
            answered["order authorisation expired"] = answered.GetValueOrDefault("order authorisation expired") + lapsing.Count;
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (true)
            {
                head = await QuietHead.OfAsync(host);
                var read = await Task.WhenAll(lapsing.Select(async o => (await host.Query.GetOrderAsync(new GetOrderRequest { OrderId = o.Id, MinPosition = head })).Order));
                if (read.All(o => o.Status == Contracts.Query.V1.OrderStatus.Cancelled)) break;
                Assert.True(DateTime.UtcNow < deadline, $"seed {seed} step {step}: the orders {string.Join(", ", lapsing.Select(o => o.Id))} were not cancelled after their holds expired");
                await Task.Delay(20);
            }
            model = after;
            await CompareOrdersAsync(lapsing.Select(o => o.Id), "after their authorisations expired");
        }

        /// <summary>A command, now and then with a request id: its request and answer are kept if it was accepted, to be sent again.</summary>
        private async Task OneAsync(Command command, bool headMayMove = false)
        {
            var (expected, after) = model.Decide(command, Now);
            var request = RequestOf(command, random.Next(3) == 0 ? NewId("r") : "");
            await AnswerAsync(command, request, expected, after, headMayMove);
            if (expected.IsOk && RequestIdOf(request) != "") logged.Add((request, command, expected));
        }

        /// <summary>
        /// A request sent again under its request id gets its first answer and writes nothing, however the bank moved
        /// since (a no-op's id included); the id on another request, one the bank would write, is refused
        /// (REQUEST_ID_REUSED) and writes nothing.
        /// </summary>
        private async Task RetryAsync()
        {
            var (request, command, first) = Any(logged);
            if (random.Next(3) == 0
                && Enumerable.Range(0, 10).Select(_ => NextCommand()).FirstOrDefault(c => c != command && model.Decide(c, Now) is var d && d.Answer.IsOk && d.After != model)
                    is { } other)
                await AnswerAsync(other, RequestOf(other, RequestIdOf(request)), Answer.Failed("REQUEST_ID_REUSED"), model, headMayMove: false);
            else await AnswerAsync(command, request, first, model, headMayMove: false);
        }

        private static string RequestIdOf(IMessage request) => (string)request.Descriptor.FindFieldByName("request_id").Accessor.GetValue(request);

        /// <summary>
        /// Sends <paramref name="request"/> and compares its answer with <paramref name="expected"/> and, unless the bank's
        /// expiry may be writing meanwhile, that the head moved exactly when the bank goes from the model to
        /// <paramref name="after"/>, and that the accounts the command names are as <paramref name="after"/> has them.
        /// </summary>
        private async Task AnswerAsync(Command command, IMessage request, Answer expected, CommandModel after, bool headMayMove)
        {
            var named = model.AccountsOf(command);
            var actual = await SendAsync(request);
            Count(command, actual);
            Assert.True(expected == actual,
                $"seed {seed} step {step}: {command} (request id '{RequestIdOf(request)}')\n  on {Show(command)}\n  the model answers {expected}\n  the bank answers  {actual}");
            var before = head;
            head = await store.HeadPositionAsync(CancellationToken.None);
            if (headMayMove)
            {
                model = after;
                return;
            }
            Assert.True((head != before) == (after != model),
                $"seed {seed} step {step}: {command} answered {actual} {(after == model ? "changes nothing, but the head moved" : "but wrote nothing")} ({before} → {head})");
            model = after;
            await CompareAccountsAsync(named, $"after {command}");
            if (command switch { PlaceOrder c => c.OrderId, FulfillOrder c => c.OrderId, CancelOrder c => c.OrderId, _ => null } is { } order)
                await CompareOrdersAsync([order], $"after {command}");
        }

        private async Task BatchAsync(bool atomic)
        {
            var commands = new List<Command>();
            for (var i = random.Next(1, 5); i > 0; i--)
            {
                var account = AnyAccount();
                // Valid amounts only: in an atomic batch a malformed field is the request's fault, before any rule.
                var amount = Math.Clamp(random.Next(3) == 0 ? CreditAmount() : DebitAmount(account), 1, MaxAmountMinor);
                commands.Add(random.Next(3) switch
                {
                    0 => new Deposit(account, amount, CurrencyOf(account)),
                    1 => new Withdraw(account, amount, CurrencyOf(account)),
                    _ => new Transfer(NewId("p"), account, Other(account), amount, CurrencyOf(account)),
                });
            }
            if (atomic && random.Next(6) == 0)
            {
                // Up to the balance limit, and past it.
                var rich = Any(Known);
                commands = [.. Enumerable.Range(0, random.Next(90, 102)).Select(_ => (Command)new Deposit(rich, MaxAmountMinor, Of(rich)!.CurrencyCode))];
            }

            var request = new ExecuteBatchRequest { Atomic = atomic };
            request.Commands.AddRange(WithRequestIds(commands, atomic));
            var (refused, results) = await ExecuteAsync(request);
            foreach (var (command, wire, result) in commands.Zip(request.Commands, results))
                if (result.IsOk && command is not (Retried or SameIdAs) && RequestOf(command, RequestIdOf(wire)) is var alone && RequestIdOf(alone) != "")
                    logged.Add((alone, command, result));
            foreach (var (command, result) in commands.Zip(results)) Count(command, result);
            if (refused is not null) Count(request, refused);
            var before = head;
            head = await store.HeadPositionAsync(CancellationToken.None);
            var what = $"seed {seed} step {step}: {(atomic ? "atomic" : "independent")} batch [{string.Join(", ", commands)}]";
            if (atomic)
            {
                var (expectedRefusal, expectedResults, after) = model.Atomic(commands, Now);
                Assert.True(expectedRefusal == refused && expectedResults.SequenceEqual(results),
                    $"{what}\n  the model answers {expectedRefusal} [{string.Join(", ", expectedResults)}]\n  the bank answers  {refused} [{string.Join(", ", results)}]");
                Assert.True((head != before) == (after != model), $"{what}: {(after == model ? "refused, but the head moved" : "wrote nothing")}");
                if (refused is not null && request.Commands.Any(c => RequestIdOf(c) != ""))
                {
                    // A refused batch logged none of its request ids: sent again, it is decided again, alike.
                    Assert.Equal(refused, (await ExecuteAsync(request)).Refused);
                    Assert.Equal(head, await store.HeadPositionAsync(CancellationToken.None));
                }
                model = after;
            }
            else
            {
                var possible = model.Independent(commands, Now);
                var matching = possible.Where(p => p.Results.SequenceEqual(results)).ToList();
                Assert.True(matching.Count > 0,
                    $"{what}\n  the model answers {string.Join("\n   or ", possible.Select(p => $"[{string.Join(", ", p.Results)}]"))}\n  the bank answers  [{string.Join(", ", results)}]");
                Assert.True((head != before) == commands.Zip(results).Any(r => r.Item1 is not Retried && r.Item2.IsOk),
                    $"{what}: the head moved {before} → {head} for [{string.Join(", ", results)}]");
                model = matching[0].After;
            }
            await CompareAccountsAsync(commands.SelectMany(model.AccountsOf).Distinct(), $"after the {(atomic ? "atomic" : "independent")} batch");
        }

        /// <summary>
        /// The batch's wire commands, some with a new request id; now and then (in <paramref name="commands"/> too) one
        /// done before sent again under its id, or a command under an id logged for another request. Now and then an
        /// atomic batch is wholly one done before, command by command.
        /// </summary>
        private IEnumerable<BatchCommand> WithRequestIds(List<Command> commands, bool atomic)
        {
            var again = logged.Where(l => BatchCommandOf(l.Request) is not null).DistinctBy(l => RequestIdOf(l.Request)).ToList();
            if (atomic && again.Count > 0 && random.Next(4) == 0)
            {
                var done = again.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToList();
                commands.Clear();
                commands.AddRange(done.Select(l => new Retried(l.Command, l.Answer)));
                return done.Select(l => BatchCommandOf(l.Request)!);
            }
            var wire = new List<BatchCommand>();
            var used = new HashSet<string>();
            for (var i = 0; i < commands.Count; i++)
            {
                var choice = random.Next(12);
                var retries = again.Where(l => !used.Contains(RequestIdOf(l.Request))).ToList();
                var others = logged.Where(l => !used.Contains(RequestIdOf(l.Request)) && l.Command != commands[i]).ToList();
                if (choice == 0 && retries.Count > 0)
                {
                    var first = Any(retries);
                    used.Add(RequestIdOf(first.Request));
                    commands[i] = new Retried(first.Command, first.Answer);
                    wire.Add(BatchCommandOf(first.Request)!);
                }
                else if (choice == 1 && others.Count > 0)
                {
                    var id = RequestIdOf(Any(others).Request);
                    used.Add(id);
                    wire.Add(BatchCommandOf(RequestOf(commands[i], id))!);
                    commands[i] = new Reused(commands[i]);
                }
                else if (choice is 2 or 3 && Enumerable.Range(0, i).Where(j => commands[j] is not (Retried or Reused or SameIdAs) && RequestIdOf(wire[j]) != "").ToList()
                         is { Count: > 0 } earlier)
                {
                    // The id of an earlier command of this batch, on the same request or another.
                    var j = Any(earlier);
                    var same = random.Next(2) == 0 ? commands[j] : commands[i];
                    wire.Add(BatchCommandOf(RequestOf(same, RequestIdOf(wire[j])))!);
                    commands[i] = new SameIdAs(j, same);
                }
                else wire.Add(BatchCommandOf(RequestOf(commands[i], random.Next(2) == 0 ? NewId("r") : ""))!);
            }
            return wire;
        }

        /// <summary>Every account <paramref name="ids"/> names that exists, read at the head, against the model.</summary>
        private async Task CompareAccountsAsync(IEnumerable<string> ids, string when)
        {
            foreach (var id in ids.Where(model.Accounts.ContainsKey))
            {
                var read = (await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = head })).Account;
                var expected = model.Accounts[id];
                Assert.True(Show(expected) == Show(read), $"seed {seed} step {step} {when}: account {id}\n  the model has {Show(expected)}\n  the bank has  {Show(read)}");
            }
        }

        /// <summary>Every order <paramref name="ids"/> names that exists, read at the head, against the model.</summary>
        private async Task CompareOrdersAsync(IEnumerable<string> ids, string when)
        {
            foreach (var id in ids.Where(model.Orders.ContainsKey))
            {
                var read = (await host.Query.GetOrderAsync(new GetOrderRequest { OrderId = id, MinPosition = head })).Order;
                var expected = model.Orders[id];
                var (modelled, bank) = ($"{expected.Status.ToString().ToUpperInvariant()} v{expected.Version} '{expected.CancellationReason}'",
                    $"{read.Status.ToString().ToUpperInvariant()} v{read.Version} '{read.CancellationReason}'");
                Assert.True(modelled == bank, $"seed {seed} step {step} {when}: order {id}\n  the model has {modelled}\n  the bank has  {bank}");
            }
        }

        private static string Show(AccountModel a) => Show(a.Status.ToString().ToUpperInvariant(), a.Version, a.CurrencyCode, a.BalanceMinor, a.HeldMinor,
            a.AvailableMinor, a.OverdraftLimitMinor, a.DebitsBlocked, a.CreditsBlocked);

        private static string Show(Account a) => Show(a.Status.ToString().ToUpperInvariant(), a.Version, a.CurrencyCode, a.BalanceMinor, a.HeldMinor,
            a.AvailableMinor, a.OverdraftLimitMinor, a.DebitsBlocked, a.CreditsBlocked);

        private static string Show(string status, long version, string currency, long balance, long held, long available, long limit, bool debits, bool credits) =>
            $"{status} v{version} {currency} balance {balance} held {held} available {available} limit {limit} debits blocked {debits} credits blocked {credits}";

        private string Show(Command command) => string.Join("; ", model.AccountsOf(command).Select(id => Of(id)?.ToString() ?? $"{id} (none)"));

        // ---- the wire ----

        /// <summary>The request that carries <paramref name="command"/> (a hold's expiry as a time or as a time to live from the bank's now: the same instant).</summary>
        private IMessage RequestOf(Command command, string requestId) => command switch
        {
            Open c => new OpenAccountRequest { AccountId = c.AccountId, OwnerName = $"Owner {c.AccountId}", CurrencyCode = c.CurrencyCode, RequestId = requestId },
            Deposit c => new DepositMoneyRequest(DepositOf(c)) { RequestId = requestId },
            Withdraw c => new WithdrawMoneyRequest(WithdrawalOf(c)) { RequestId = requestId },
            Freeze c => new FreezeAccountRequest { AccountId = c.AccountId, Reason = "review", RequestId = requestId },
            Unfreeze c => new UnfreezeAccountRequest { AccountId = c.AccountId, RequestId = requestId },
            Close c => new CloseAccountRequest { AccountId = c.AccountId, RequestId = requestId },
            PlaceHold c when random.Next(2) == 0 || c.ExpiresAt <= Now => new PlaceHoldRequest(HoldOf(c, requestId)) { ExpiresAt = Timestamp.FromDateTimeOffset(c.ExpiresAt) },
            PlaceHold c => new PlaceHoldRequest(HoldOf(c, requestId)) { Ttl = Duration.FromTimeSpan(c.ExpiresAt - Now) },
            Capture c => new CaptureHoldRequest { AccountId = c.AccountId, HoldId = c.HoldId, AmountMinor = c.AmountMinor, Reference = "capture", RequestId = requestId },
            Release c => new ReleaseHoldRequest { AccountId = c.AccountId, HoldId = c.HoldId, RequestId = requestId },
            SetOverdraftLimit c => new SetOverdraftLimitRequest { AccountId = c.AccountId, LimitMinor = c.LimitMinor, RequestId = requestId },
            Restrict c => new RestrictAccountRequest { AccountId = c.AccountId, BlockDebits = c.BlockDebits, BlockCredits = c.BlockCredits, Reason = c.Reason, RequestId = requestId },
            LiftRestriction c => new LiftRestrictionRequest { AccountId = c.AccountId, RequestId = requestId },
            Transfer c => new TransferMoneyRequest(TransferOf(c)) { RequestId = requestId },
            Refund c => new RefundPaymentRequest { PaymentId = c.PaymentId, Reason = "returned", RequestId = requestId },
            PlaceOrder c => new PlaceOrderRequest
            {
                OrderId = c.OrderId, CustomerAccountId = c.CustomerAccountId, MerchantAccountId = c.MerchantAccountId, AmountMinor = c.AmountMinor,
                CurrencyCode = c.CurrencyCode, Description = $"order {c.OrderId}", RequestId = requestId,
                AuthorizationTtl = c.Ttl is { } ttl ? Duration.FromTimeSpan(ttl) : null,
            },
            FulfillOrder c => new FulfillOrderRequest { OrderId = c.OrderId, RequestId = requestId },
            CancelOrder c => new CancelOrderRequest { OrderId = c.OrderId, Reason = c.Reason, RequestId = requestId },
            _ => throw new ArgumentOutOfRangeException(nameof(command), command, null),
        };

        private static PlaceHoldRequest HoldOf(PlaceHold c, string requestId) => new()
        {
            AccountId = c.AccountId, HoldId = c.HoldId, AmountMinor = c.AmountMinor, CurrencyCode = c.CurrencyCode, Reference = c.Reference, RequestId = requestId,
        };

        private async Task<Answer> SendAsync(IMessage request)
        {
            try
            {
                return request switch
                {
                    OpenAccountRequest r => Answer.Ok((await accounts.OpenAccountAsync(r)).Version),
                    DepositMoneyRequest r => Of(await accounts.DepositMoneyAsync(r)),
                    WithdrawMoneyRequest r => Of(await accounts.WithdrawMoneyAsync(r)),
                    FreezeAccountRequest r => Answer.Ok((await accounts.FreezeAccountAsync(r)).Version),
                    UnfreezeAccountRequest r => Answer.Ok((await accounts.UnfreezeAccountAsync(r)).Version),
                    CloseAccountRequest r => Answer.Ok((await accounts.CloseAccountAsync(r)).Version),
                    PlaceHoldRequest r => await PlaceAsync(r),
                    CaptureHoldRequest r => Of(await accounts.CaptureHoldAsync(r)),
                    ReleaseHoldRequest r => Of(await accounts.ReleaseHoldAsync(r)),
                    SetOverdraftLimitRequest r => Answer.Ok((await accounts.SetOverdraftLimitAsync(r)).Version),
                    RestrictAccountRequest r => Answer.Ok((await accounts.RestrictAccountAsync(r)).Version),
                    LiftRestrictionRequest r => Answer.Ok((await accounts.LiftRestrictionAsync(r)).Version),
                    TransferMoneyRequest r => Answer.Ok((await payments.TransferMoneyAsync(r)).Version),
                    RefundPaymentRequest r => Answer.Ok((await payments.RefundPaymentAsync(r)).Version),
                    PlaceOrderRequest r => await PlaceAsync(r),
                    FulfillOrderRequest r => Answer.Ok((await orders.FulfillOrderAsync(r)).Version),
                    CancelOrderRequest r => Answer.Ok((await orders.CancelOrderAsync(r)).Version),
                    _ => throw new ArgumentOutOfRangeException(nameof(request), request, null),
                };
            }
            catch (RpcException e)
            {
                return Refusal(e.StatusCode, e.GetRpcStatus());
            }
        }

        private async Task<Answer> PlaceAsync(PlaceHoldRequest request)
        {
            var reply = await accounts.PlaceHoldAsync(request);
            if (!holds.Contains((request.AccountId, request.HoldId))) holds.Add((request.AccountId, request.HoldId));
            return Answer.Ok(reply.Version) with
            {
                BalanceMinor = reply.BalanceMinor, HeldMinor = reply.HeldMinor, AvailableMinor = reply.AvailableMinor, ExpiresAt = reply.ExpiresAt.ToDateTimeOffset(),
            };
        }

        private async Task<Answer> PlaceAsync(PlaceOrderRequest request)
        {
            var reply = await orders.PlaceOrderAsync(request);
            return Answer.Ok(reply.Version) with
            {
                Order = reply.Authorized ? "AUTHORIZED" : $"CANCELLED {reply.CancellationReason}",
                ExpiresAt = reply.Authorized ? reply.AuthorizationExpiresAt.ToDateTimeOffset() : null,
            };
        }

        private async Task<(Answer? Refused, List<Answer> Results)> ExecuteAsync(ExecuteBatchRequest request)
        {
            try
            {
                var reply = await batches.ExecuteBatchAsync(request);
                return (null, [.. reply.Results.Select(r => r.ResultCase switch
                {
                    BatchResult.ResultOneofCase.Deposit => Of(r.Deposit),
                    BatchResult.ResultOneofCase.Withdraw => Of(r.Withdraw),
                    BatchResult.ResultOneofCase.Transfer => Answer.Ok(r.Transfer.Version),
                    _ => Refusal((StatusCode)r.Error.Code, r.Error),
                })]);
            }
            catch (RpcException e)
            {
                return (Refusal(e.StatusCode, e.GetRpcStatus()), []);
            }
        }

        private static Answer Refusal(StatusCode code, Google.Rpc.Status? status)
        {
            var info = status?.GetDetail<ErrorInfo>();
            return new Answer(code, info?.Reason ?? "", Index: info?.Metadata.TryGetValue("index", out var index) == true ? index : null);
        }

        private static Answer Of(DepositMoneyResponse r) => Answer.Ok(r.Version) with { BalanceMinor = r.BalanceMinor };

        private static Answer Of(WithdrawMoneyResponse r) => Answer.Ok(r.Version) with { BalanceMinor = r.BalanceMinor };

        private static Answer Of(CaptureHoldResponse r) =>
            Answer.Ok(r.Version) with { BalanceMinor = r.BalanceMinor, HeldMinor = r.HeldMinor, AvailableMinor = r.AvailableMinor };

        private static Answer Of(ReleaseHoldResponse r) =>
            Answer.Ok(r.Version) with { BalanceMinor = r.BalanceMinor, HeldMinor = r.HeldMinor, AvailableMinor = r.AvailableMinor };

        /// <summary>The batch's form of a single request; null for one a batch cannot carry.</summary>
        private static BatchCommand? BatchCommandOf(IMessage request) => request switch
        {
            DepositMoneyRequest r when !r.HasExpectedVersion => new BatchCommand { Deposit = r },
            WithdrawMoneyRequest r when !r.HasExpectedVersion => new BatchCommand { Withdraw = r },
            TransferMoneyRequest r => new BatchCommand { Transfer = r },
            _ => null,
        };

        private static string RequestIdOf(BatchCommand command) => RequestIdOf(command.Deposit ?? command.Withdraw ?? (IMessage)command.Transfer);

        private static DepositMoneyRequest DepositOf(Deposit c)
        {
            var request = new DepositMoneyRequest { AccountId = c.AccountId, AmountMinor = c.AmountMinor, CurrencyCode = c.CurrencyCode, Reference = "deposit" };
            if (c.ExpectedVersion is { } expected) request.ExpectedVersion = expected;
            return request;
        }

        private static WithdrawMoneyRequest WithdrawalOf(Withdraw c)
        {
            var request = new WithdrawMoneyRequest { AccountId = c.AccountId, AmountMinor = c.AmountMinor, CurrencyCode = c.CurrencyCode, Reference = "withdrawal" };
            if (c.ExpectedVersion is { } expected) request.ExpectedVersion = expected;
            return request;
        }

        private static TransferMoneyRequest TransferOf(Transfer c) => new()
        {
            PaymentId = c.PaymentId, FromAccountId = c.FromAccountId, ToAccountId = c.ToAccountId, AmountMinor = c.AmountMinor, CurrencyCode = c.CurrencyCode,
            Reference = "transfer",
        };
    }
}

public sealed class EmbeddedCommandModelSpecs : CommandModelSpecs
{
    protected override Task<BankHost> StartHostAsync() => BankHost.StartEmbeddedAsync(WithClock);
}

public sealed class PostgresCommandModelSpecs(PostgresServer postgres) : CommandModelSpecs
{
    protected override async Task<BankHost> StartHostAsync() => await BankHost.StartPostgresAsync(await postgres.CreateDatabaseAsync(), WithClock);
}
