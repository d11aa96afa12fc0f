using GrpcBank.Domain.Accounts;
using LanguageExt;

namespace GrpcBank.Domain.Tests.Accounts;

/// <summary>Properties of the account decider that hold for many inputs, not one example.</summary>
public sealed class AccountProperties
{
    private const string Id = "acc-0001";
    private const string Eur = "EUR";

    private static readonly AccountEvent Opened = new AccountEvent.AccountOpened(Id, "Ada Lovelace", Eur);

    [Fact]
    public void GivenRandomValidCommandSequences_WhenFolded_ThenBalanceIsDepositsMinusWithdrawals()
    {
        // Seeded so that a failure reproduces; randomness lives in the test, never in the domain.
        var random = new Random(20_240_601);
        for (var run = 0; run < 200; run++)
        {
            var history = new List<AccountEvent> { Opened };
            long expectedBalance = 0;
            var frozen = false;
            for (var step = 0; step < 60; step++)
            {
                var amount = random.NextInt64(1, 1_000_000);
                var command = random.Next(10) switch
                {
                    < 5 => new AccountCommand.DepositMoney(Id, amount, Eur, $"ref-{run}-{step}"),
                    < 8 => new AccountCommand.WithdrawMoney(Id, amount, Eur, $"ref-{run}-{step}"),
                    8 => new AccountCommand.FreezeAccount(Id, "review"),
                    _ => (AccountCommand)new AccountCommand.UnfreezeAccount(Id),
                };

                var decision = Account.Decide(command, Account.Decider.Fold(history));

                // The model: plain arithmetic and a flag, written without the decider's code.
                var accepted = command switch
                {
                    AccountCommand.WithdrawMoney => !frozen && amount <= expectedBalance,
                    _ => true,
                };
                Assert.Equal(accepted, decision.IsRight);
                if (!accepted) continue;
                switch (command)
                {
                    case AccountCommand.DepositMoney: expectedBalance += amount; break;
                    case AccountCommand.WithdrawMoney: expectedBalance -= amount; break;
                    case AccountCommand.FreezeAccount: frozen = true; break;
                    case AccountCommand.UnfreezeAccount: frozen = false; break;
                }
                history.AddRange(decision.RightToSeq().Flatten());
            }

            var state = Account.Decider.Fold(history);
            Assert.Equal(expectedBalance, state.BalanceMinor);
            Assert.Equal(frozen ? AccountStatus.Frozen : AccountStatus.Active, state.Status);
        }
    }

    public static TheoryData<string, AccountEvent[]> FrozenHistories => new()
    {
        { "frozen", [Opened, new AccountEvent.AccountFrozen(Id, "review")] },
        { "frozen with balance", [Opened, new AccountEvent.MoneyDeposited(Id, 10_000, Eur, "ref"), new AccountEvent.AccountFrozen(Id, "review")] },
        { "frozen again after unfreeze", [Opened, new AccountEvent.AccountFrozen(Id, "a"), new AccountEvent.AccountUnfrozen(Id), new AccountEvent.AccountFrozen(Id, "b")] },
    };

    [Theory]
    [MemberData(nameof(FrozenHistories))]
    public void GivenFrozenAccount_WhenFreezeRepeated_ThenNoEvents(string name, AccountEvent[] history)
    {
        var state = Account.Decider.Fold(history);
        var retried = Account.Decide(new AccountCommand.FreezeAccount(Id, "another reason"), state);

        Assert.True(retried.IsRight, name);
        Assert.Empty(retried.RightToSeq().Flatten());
    }

    [Fact]
    public void GivenAnyState_WhenAnyCommand_ThenDecideNeverThrows()
    {
        var commands = Commands().ToList();

        // A new command type must be added here, or this test does not cover it.
        var covered = commands.Select(c => c.GetType()).Distinct().ToHashSet();
        var declared = typeof(AccountCommand).GetNestedTypes().Where(t => t.IsSubclassOf(typeof(AccountCommand)));
        Assert.All(declared, t => Assert.Contains(t, covered));

        foreach (var history in Histories())
        {
            var state = Account.Decider.Fold(history);
            foreach (var command in commands)
            {
                var decision = Record.Exception(() => Account.Decide(command, state));
                Assert.Null(decision);
            }
        }
    }

    private static IEnumerable<AccountEvent[]> Histories()
    {
        var deposited = new AccountEvent.MoneyDeposited(Id, 10_000, Eur, "ref");
        var frozen = new AccountEvent.AccountFrozen(Id, "review");
        var closed = new AccountEvent.AccountClosed(Id);
        yield return [];
        yield return [Opened];
        yield return [Opened, deposited];
        yield return [Opened, new AccountEvent.MoneyDeposited(Id, Money.MaxBalanceMinor, Eur, "ref")];
        yield return [Opened, frozen];
        yield return [Opened, deposited, frozen];
        yield return [Opened, frozen, new AccountEvent.AccountUnfrozen(Id)];
        yield return [Opened, closed];
        yield return [Opened, deposited, new AccountEvent.MoneyWithdrawn(Id, 10_000, Eur, "ref"), closed];
        yield return [Opened, new AccountEvent.PaymentCredited(Id, new Movement("pay-0001", "ord-0001", 10_000, Eur), Settlement.Saga), frozen];
        var held = new AccountEvent.HoldPlaced(Id, "hold-1", 4_000, Eur, "ref", At.AddMinutes(1));
        yield return [Opened, deposited, held];
        yield return [Opened, deposited, held, new AccountEvent.HoldCaptured(Id, "hold-1", 1_000, 3_000, Eur, "ref", "", "")];
        yield return [Opened, deposited, held, new AccountEvent.HoldExpired(Id, "hold-1", 4_000, At.AddMinutes(1))];
        yield return [Opened, new AccountEvent.OverdraftLimitSet(Id, Money.MaxAmountMinor), new AccountEvent.AccountRestricted(Id, true, true, "court")];
    }

    private static readonly DateTimeOffset At = new(2026, 1, 15, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void GivenRandomHoldsCapturesReleasesAndDebits_WhenFolded_ThenAvailableNeverGoesBelowMinusTheLimit_AndHeldIsTheActiveHolds()
    {
        var random = new Random(20_261_202);
        for (var run = 0; run < 100; run++)
        {
            var limit = random.Next(3) * 5_000L;
            var history = new List<AccountEvent> { Opened, new AccountEvent.MoneyDeposited(Id, 10_000, Eur, "ref") };
            if (limit > 0) history.Add(new AccountEvent.OverdraftLimitSet(Id, limit));
            for (var step = 0; step < 80; step++)
            {
                var state = Account.Decider.Fold(history);
                var hold = $"hold-{random.Next(10)}";
                var amount = random.NextInt64(0, 8_000);
                var command = random.Next(6) switch
                {
                    0 => new AccountCommand.PlaceHold(Id, hold, amount, Eur, "ref", At.AddMinutes(10), At),
                    1 => new AccountCommand.CaptureHold(Id, hold, amount, "ref", At.AddMinutes(random.Next(12))),
                    2 => new AccountCommand.ReleaseHold(Id, hold),
                    3 => new AccountCommand.ExpireHold(Id, hold, At.AddMinutes(random.Next(12))),
                    4 => new AccountCommand.WithdrawMoney(Id, amount, Eur, "ref"),
                    _ => (AccountCommand)new AccountCommand.DepositMoney(Id, amount, Eur, "ref"),
                };
                history.AddRange(Account.Decide(command, state).RightToSeq().Flatten());

                var after = Account.Decider.Fold(history);
                Assert.True(after.AvailableMinor >= -limit, $"run {run} step {step}: available {after.AvailableMinor} below -{limit}");
                Assert.Equal(after.Holds.Values.Where(h => h.Status == HoldStatus.Active).Sum(h => h.AmountMinor), after.HeldMinor);
            }
        }
    }

    [Fact]
    public void GivenRandomRestrictions_OnlyLiftRestrictionEverUnblocks()
    {
        var random = new Random(20261206);
        for (var run = 0; run < 200; run++)
        {
            var history = new List<AccountEvent> { Opened };
            for (var step = 0; step < 20; step++)
            {
                var before = Account.Decider.Fold(history);
                var command = random.Next(5) == 0
                    ? (AccountCommand)new AccountCommand.LiftRestriction(Id)
                    : new AccountCommand.RestrictAccount(Id, random.Next(2) == 0, random.Next(2) == 0, $"reason {random.Next(3)}");
                history.AddRange(Account.Decide(command, before).RightToSeq().Flatten());

                var after = Account.Decider.Fold(history);
                if (command is AccountCommand.LiftRestriction) continue;
                Assert.True((!before.DebitsBlocked || after.DebitsBlocked) && (!before.CreditsBlocked || after.CreditsBlocked),
                    $"run {run} step {step}: {command} unblocked ({before.DebitsBlocked}, {before.CreditsBlocked}) → ({after.DebitsBlocked}, {after.CreditsBlocked})");
            }
        }
    }

    private static IEnumerable<AccountCommand> Commands()
    {
        long[] amounts = [long.MinValue, -1, 0, 1, 10_000, Money.MaxAmountMinor, Money.MaxAmountMinor + 1, long.MaxValue];
        string[] currencies = [Eur, "USD", "", "eur"];
        string[] ids = [Id, "acc-other", ""];
        foreach (var id in ids)
        {
            foreach (var currency in currencies) yield return new AccountCommand.OpenAccount(id, "Ada Lovelace", currency);
            foreach (var amount in amounts)
            foreach (var currency in currencies)
            {
                yield return new AccountCommand.DepositMoney(id, amount, currency, "ref");
                yield return new AccountCommand.WithdrawMoney(id, amount, currency, "ref");
                var movement = new Movement("pay-0001", "", amount, currency);
                yield return new AccountCommand.DebitForPayment(id, movement);
                yield return new AccountCommand.CreditForPayment(id, movement);
                yield return new AccountCommand.DebitForRefund(id, movement);
                yield return new AccountCommand.CreditForRefund(id, movement);
            }
            yield return new AccountCommand.FreezeAccount(id, "review");
            yield return new AccountCommand.UnfreezeAccount(id);
            yield return new AccountCommand.CloseAccount(id);
            foreach (var amount in amounts)
            foreach (var hold in new[] { "hold-1", "" })
            {
                yield return new AccountCommand.PlaceHold(id, hold, amount, Eur, "ref", At.AddMinutes(1), At);
                yield return new AccountCommand.PlaceHold(id, hold, amount, Eur, "ref", At, At);
                yield return new AccountCommand.CaptureHold(id, hold, amount, "ref", At);
                yield return new AccountCommand.SetOverdraftLimit(id, amount);
            }
            foreach (var hold in new[] { "hold-1", "" })
            {
                yield return new AccountCommand.ReleaseHold(id, hold);
                yield return new AccountCommand.ExpireHold(id, hold, At.AddMinutes(2));
            }
            yield return new AccountCommand.RestrictAccount(id, true, false, "court");
            yield return new AccountCommand.RestrictAccount(id, false, false, "");
            yield return new AccountCommand.LiftRestriction(id);
        }
    }
}
