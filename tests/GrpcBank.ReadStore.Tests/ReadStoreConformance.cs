using GrpcBank.Application.EventStore;
using GrpcBank.Application.ReadSide;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// What every read store must do, whatever engine is behind it: idempotent application, the watermark,
/// lookups, owner-name search (exact, prefix, typo, diacritics), filters, every order, keyset paging (also through
/// the real server's gRPC edge), statements and summaries, order and payment search. Derive once per store.
/// </summary>
public abstract partial class ReadStoreConformance : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected IReadStore Store { get; private set; } = null!;

    protected abstract Task<IReadStore> CreateStoreAsync();

    public async ValueTask InitializeAsync() => Store = await CreateStoreAsync();

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task ApplyAsync(History history, params RecordedEvent[] events) => Store.ApplyAsync(events, history.Position, None);

    // ---- Application ----

    [Fact]
    public async Task ApplyingTheSameBatchTwice_GivesIdenticalResults()
    {
        var h = new History();
        RecordedEvent[] batch = [h.Opened("a1", "Ada Lovelace"), h.Deposited("a1", 500), h.Withdrawn("a1", 200)];

        await ApplyAsync(h, batch);
        var account = await Store.GetAccountAsync("a1", None);
        var statement = await StatementAsync("a1");
        await ApplyAsync(h, batch);

        Assert.Equal(account, await Store.GetAccountAsync("a1", None));
        Assert.Equal(statement, await StatementAsync("a1"));
        Assert.Equal(300, account!.BalanceMinor);
        Assert.Equal(2, statement.Count);
    }

    [Fact]
    public async Task AnOutOfDateWrite_IsIgnored()
    {
        var h = new History();
        var opened = h.Opened("a1", "Ada Lovelace");
        var first = h.Deposited("a1", 500);
        var second = h.Deposited("a1", 70);
        await ApplyAsync(h, opened, first, second);

        await ApplyAsync(h, first);

        var account = await Store.GetAccountAsync("a1", None);
        Assert.Equal((570L, 3L), (account!.BalanceMinor, account.Version));
        Assert.Equal(2, (await StatementAsync("a1")).Count);
    }

    [Fact]
    public async Task AStreamRedeliveredFromItsFirstEvent_LeavesTheNewerViews_AndItsSearchEntry()
    {
        var h = new History();
        var opened = h.Opened("a1", "Ada Lovelace");
        var first = h.Deposited("a1", 500);
        await ApplyAsync(h, opened, first, h.Withdrawn("a1", 200));
        var paid = OrderPaidBy(h, "o1", "p1", "cust", "merch", 1_200, "lamp").ToArray();
        await ApplyAsync(h, paid);

        // The relay's redelivery of a stream's first events only, each batch starting at version 1.
        await ApplyAsync(h, opened, first);
        await ApplyAsync(h, paid.Where(e => e.StreamId == "payment-p1").Take(1).ToArray());

        var account = await Store.GetAccountAsync("a1", None);
        Assert.Equal((300L, 3L, "Ada Lovelace"), (account!.BalanceMinor, account.Version, account.OwnerName));
        Assert.Equal([500L, 200L], (await StatementAsync("a1")).Select(t => t.AmountMinor));
        Assert.Equal(["a1"], (await Store.SearchAccountsAsync(new AccountSearch("lovelace", null, null, AccountOrder.Relevance, 10, null), None))
            .Items.Select(a => a.AccountId));
        Assert.Equal(PaymentViewStatus.Completed, (await Store.GetPaymentAsync("p1", None))!.Status);
    }

    [Fact]
    public async Task ABatchCutShortThenRedelivered_LosesNoStatementLine_AndRepeatsNone()
    {
        var h = new History();
        RecordedEvent[] batch =
        [
            h.Opened("a1", "Ada Lovelace"), h.Deposited("a1", 500), h.Withdrawn("a1", 200),
            h.Opened("a2", "Alan Turing"), h.Deposited("a2", 70), h.Deposited("a1", 1),
        ];

        // A delivery that stopped part-way (some writes stored, no watermark), then the relay's redelivery of it all.
        await Store.ApplyAsync(batch[..3], 0, None);
        await Store.ApplyAsync(batch[3..5], 0, None);
        await ApplyAsync(h, batch);

        Assert.Equal([500L, 200L, 1L], (await StatementAsync("a1")).Select(t => t.AmountMinor));
        Assert.Equal([70L], (await StatementAsync("a2")).Select(t => t.AmountMinor));
        Assert.Equal((301L, 70L), ((await Store.GetAccountAsync("a1", None))!.BalanceMinor, (await Store.GetAccountAsync("a2", None))!.BalanceMinor));
        Assert.Equal(h.Position, await Store.AppliedPositionAsync(None));
    }

    [Fact]
    public async Task TheWatermark_IsRecorded_AndNeverGoesBack()
    {
        Assert.Equal(0, await Store.AppliedPositionAsync(None));
        await Store.ApplyAsync([], 42, None);
        Assert.Equal(42, await Store.AppliedPositionAsync(None));
        await Store.ApplyAsync([], 7, None);
        Assert.Equal(42, await Store.AppliedPositionAsync(None));
    }

    // ---- Lookups ----

    [Fact]
    public async Task GetAccountOrderAndPayment_ReturnTheViews_OrNullWhenUnknown()
    {
        var h = new History();
        await ApplyAsync(h, OrderPaidBy(h, "o1", "p1", "cust", "merch", 1_200, "lamp").ToArray());

        var account = await Store.GetAccountAsync("cust", None);
        var order = await Store.GetOrderAsync("o1", None);
        var payment = await Store.GetPaymentAsync("p1", None);

        Assert.Equal(("Customer cust", "EUR", 3_800L, AccountViewStatus.Active), (account!.OwnerName, account.CurrencyCode, account.BalanceMinor, account.Status));
        Assert.Equal(("cust", "merch", 1_200L, "lamp", OrderViewStatus.Paid, "p1"),
            (order!.CustomerAccountId, order.MerchantAccountId, order.AmountMinor, order.Description, order.Status, order.PaymentId));
        Assert.Equal(("o1", "cust", "merch", PaymentViewStatus.Completed), (payment!.OrderId, payment.FromAccountId, payment.ToAccountId, payment.Status));
        Assert.Null(await Store.GetAccountAsync("nope", None));
        Assert.Null(await Store.GetOrderAsync("nope", None));
        Assert.Null(await Store.GetPaymentAsync("nope", None));
    }

    // ---- Owner-name search ----

    private static readonly string[] Names =
    [
        "Dorothy Vaughan", "Dorthea Worthy", "Worthy Adams", "Dorian Gray", "Margaret Hamilton", "Marge Simpson", "Martin Fowler",
        "Zoë Kravitz", "Zoe Saldana", "Ada Lovelace", "Alan Turing", "Grace Hopper", "Katherine Johnson", "Mary Jackson",
        "Barbara Liskov", "Edsger Dijkstra", "Donald Knuth", "Ken Thompson", "Dennis Ritchie", "Linus Torvalds", "Guido Rossum",
        "Anders Hejlsberg", "Bjarne Stroustrup", "James Gosling", "John McCarthy", "Frances Allen", "Radia Perlman",
        "Shafi Goldwasser", "Leslie Lamport", "Tony Hoare", "Niklaus Wirth", "Hedy Lamarr", "Annie Easley", "Jean Sammet",
        "Adele Goldberg", "Sophie Wilson", "Lynn Conway", "Karen Jones", "Joan Clarke", "Evelyn Boyd", "Mae Jemison",
        "Sally Ride", "Chien Wu", "Emmy Noether", "Sofia Kovalevskaya", "Hypatia Alexandria", "Rosalind Franklin",
        "Lise Meitner", "Marie Curie", "Dorothy Hodgkin",
    ];

    /// <summary>The ~50 names above as accounts n01…n50, EUR except every fifth (USD), every seventh frozen.</summary>
    private async Task SeedNamesAsync()
    {
        var h = new History();
        var events = new List<RecordedEvent>();
        for (var i = 0; i < Names.Length; i++)
        {
            var id = $"n{i + 1:00}";
            events.Add(h.Opened(id, Names[i], i % 5 == 4 ? "USD" : "EUR"));
            events.Add(h.Deposited(id, 100 * (i + 1), i % 5 == 4 ? "USD" : "EUR"));
            if (i % 7 == 6) events.Add(h.Account(new AccountEvent.AccountFrozen(id, "audit")));
        }
        await Store.ApplyAsync(events, h.Position, None);
    }

    private async Task<List<string>> NamesFoundAsync(string text, AccountOrder order = AccountOrder.Relevance) =>
        (await Store.SearchAccountsAsync(new AccountSearch(text, null, null, order, 100, null), None)).Items.Select(a => a.OwnerName).ToList();

    [Fact]
    public async Task SearchByExactName_FindsIt_First()
    {
        await SeedNamesAsync();
        var found = await NamesFoundAsync("Margaret Hamilton");
        Assert.Equal(["Margaret Hamilton"], found);
    }

    [Fact]
    public async Task SearchByPrefix_FindsEveryNameWithAWordStartingSo()
    {
        await SeedNamesAsync();
        var marg = await NamesFoundAsync("marg");
        Assert.Equal(["Margaret Hamilton", "Marge Simpson"], marg.Take(2).Order(StringComparer.Ordinal));
        Assert.DoesNotContain("Martin Fowler", marg);
        Assert.Contains("Dorothy Vaughan", await NamesFoundAsync("doro"));
    }

    [Fact]
    public async Task SearchWithATypo_RanksTheClosestNameFirst()
    {
        await SeedNamesAsync();
        var found = await NamesFoundAsync("dorthy");
        Assert.Equal("Dorothy Vaughan", found[0]);
        Assert.Equal("Dorothy Hodgkin", found[1]);
        Assert.DoesNotContain("Dorian Gray", found);
    }

    [Fact]
    public async Task SearchWithATypoInTwoWords_StillFinds()
    {
        await SeedNamesAsync();
        Assert.Equal("Dorothy Vaughan", (await NamesFoundAsync("dorthy vaugan"))[0]);
    }

    [Fact]
    public async Task SearchIgnoresDiacritics_BothWays()
    {
        await SeedNamesAsync();
        Assert.Equal(["Zoe Saldana", "Zoë Kravitz"], (await NamesFoundAsync("zoe", AccountOrder.OwnerName)));
        Assert.Equal(["Zoe Saldana", "Zoë Kravitz"], (await NamesFoundAsync("Zoë", AccountOrder.OwnerName)));
    }

    [Theory]
    [InlineData("marg-")]
    [InlineData("o\"neil")]
    [InlineData("foo:bar")]
    [InlineData("AND OR NOT")]
    public async Task SearchWithQuerySyntax_IsTakenAsPlainText(string text)
    {
        await SeedNamesAsync();
        var page = await Store.SearchAccountsAsync(new AccountSearch(text, null, null, AccountOrder.Relevance, 10, null), None);
        Assert.True(page.TotalSize >= 0);
    }

    /// <summary>Text without a letter or digit has nothing to search for: it finds nothing (blank text is no query: everything).</summary>
    [Theory]
    [InlineData("*")]
    [InlineData("\"")]
    [InlineData("(")]
    [InlineData("-")]
    [InlineData("^")]
    [InlineData("\U0001F600")]
    [InlineData("* - ( ^ \" \u0301")]
    public async Task SearchWithNothingSearchable_FindsNothing(string text)
    {
        await SeedNamesAsync();
        await SeedOrdersAsync();

        var accounts = await Store.SearchAccountsAsync(new AccountSearch(text, null, null, AccountOrder.Relevance, 10, null), None);
        var byName = await Store.SearchAccountsAsync(new AccountSearch(text, null, null, AccountOrder.OwnerName, 10, null), None);

        Assert.Equal((0, 0L), (accounts.Items.Count, accounts.TotalSize));
        Assert.Equal((0, 0L), (byName.Items.Count, byName.TotalSize));
        Assert.Empty(await OrdersFoundAsync(text));
        Assert.True((await Store.SearchAccountsAsync(new AccountSearch(" ", null, null, AccountOrder.OwnerName, 10, null), None)).TotalSize >= Names.Length);
        Assert.Equal(3, (await OrdersFoundAsync(" ")).Count);
    }

    [Fact]
    public async Task SearchFilters_ByStatusAndCurrency()
    {
        await SeedNamesAsync();
        var frozen = await Store.SearchAccountsAsync(new AccountSearch("", AccountViewStatus.Frozen, null, AccountOrder.OwnerName, 100, null), None);
        var usd = await Store.SearchAccountsAsync(new AccountSearch("", null, "USD", AccountOrder.OwnerName, 100, null), None);
        var frozenUsd = await Store.SearchAccountsAsync(new AccountSearch("", AccountViewStatus.Frozen, "USD", AccountOrder.OwnerName, 100, null), None);
        var dorothyEur = await Store.SearchAccountsAsync(new AccountSearch("dorothy", null, "EUR", AccountOrder.Relevance, 100, null), None);

        Assert.Equal(7, frozen.TotalSize);
        Assert.All(frozen.Items, a => Assert.Equal(AccountViewStatus.Frozen, a.Status));
        Assert.Equal(10, usd.TotalSize);
        Assert.All(usd.Items, a => Assert.Equal("USD", a.CurrencyCode));
        Assert.Equal(["n35"], frozenUsd.Items.Select(a => a.AccountId));
        Assert.Equal("Dorothy Vaughan", dorothyEur.Items[0].OwnerName);
        Assert.All(dorothyEur.Items, a => Assert.Equal("EUR", a.CurrencyCode));
    }

    [Theory]
    [InlineData(AccountOrder.OwnerName)]
    [InlineData(AccountOrder.OwnerNameDesc)]
    [InlineData(AccountOrder.BalanceMinor)]
    [InlineData(AccountOrder.BalanceMinorDesc)]
    [InlineData(AccountOrder.OpenedAt)]
    [InlineData(AccountOrder.OpenedAtDesc)]
    public async Task EveryOrder_SortsByItsField(AccountOrder order)
    {
        await SeedNamesAsync();
        var items = (await Store.SearchAccountsAsync(new AccountSearch("", null, null, order, 100, null), None)).Items;
        Assert.Equal(Names.Length, items.Count);
        var expected = order switch
        {
            AccountOrder.OwnerName => items.OrderBy(a => a.OwnerName, StringComparer.Ordinal),
            AccountOrder.OwnerNameDesc => items.OrderByDescending(a => a.OwnerName, StringComparer.Ordinal),
            AccountOrder.BalanceMinor => items.OrderBy(a => a.BalanceMinor),
            AccountOrder.BalanceMinorDesc => items.OrderByDescending(a => a.BalanceMinor),
            AccountOrder.OpenedAt => items.OrderBy(a => a.OpenedAt),
            _ => items.OrderByDescending(a => a.OpenedAt),
        };
        Assert.Equal(expected.Select(a => a.AccountId), items.Select(a => a.AccountId));
    }

    [Theory]
    [InlineData(AccountOrder.Relevance, "owner")]
    [InlineData(AccountOrder.OwnerName, "")]
    [InlineData(AccountOrder.OwnerNameDesc, "")]
    [InlineData(AccountOrder.BalanceMinor, "")]
    [InlineData(AccountOrder.BalanceMinorDesc, "")]
    [InlineData(AccountOrder.OpenedAt, "")]
    [InlineData(AccountOrder.OpenedAtDesc, "")]
    public async Task Paging45AccountsBy10_SeesEachOnce_WithAStableTotal(AccountOrder order, string text)
    {
        // Ties on purpose: nine owner names, five balances and fifteen opening times for 45 accounts.
        var h = new History();
        var events = new List<RecordedEvent>();
        for (var i = 0; i < 45; i++)
        {
            var id = $"p{i:00}";
            if (i % 3 == 0) h.At(History.Start.AddHours(i));
            events.Add(h.Opened(id, $"Owner {(char)('A' + i % 9)}", "CHF"));
            h.At(History.Start.AddHours(i - i % 3));
            events.Add(h.Deposited(id, 1_000 * (i % 5 + 1), "CHF"));
        }
        events.Add(h.Opened("other", "Owner Elsewhere", "EUR"));
        await Store.ApplyAsync(events, h.Position, None);

        var seen = new List<string>();
        SortKey? after = null;
        var pages = 0;
        do
        {
            var page = await Store.SearchAccountsAsync(new AccountSearch(text, null, "CHF", order, 10, after), None);
            Assert.Equal(45, page.TotalSize);
            seen.AddRange(page.Items.Select(a => a.AccountId));
            after = page.NextAfter;
            pages++;
        } while (after is not null && pages < 10);

        Assert.Equal(5, pages);
        Assert.Equal(45, seen.Count);
        Assert.Equal(45, seen.Distinct().Count());
    }

    [Fact]
    public async Task PagingByRelevance_WhileOtherAccountsAreOpened_SeesEachMatchOnce()
    {
        // Names of one to four words, so that anything weighing a name against the others' words would score them apart.
        var h = new History();
        var matches = Enumerable.Range(0, 30).Select(i => $"r{i:00}").ToList();
        await ApplyAsync(h, matches.Select((id, i) => h.Opened(id, "Owner" + string.Concat(Enumerable.Repeat(" Jones", i % 4)))).ToArray());

        var seen = new List<string>();
        SortKey? after = null;
        var pages = 0;
        do
        {
            var page = await Store.SearchAccountsAsync(new AccountSearch("owner", null, null, AccountOrder.Relevance, 7, after), None);
            seen.AddRange(page.Items.Select(a => a.AccountId));
            after = page.NextAfter;
            // Between two pages: accounts opened that the search does not find, and one it does.
            await ApplyAsync(h, Enumerable.Range(0, 5).Select(i => h.Opened($"z{pages}-{i}", $"Zed Jones Jones {i}"))
                .Append(h.Opened($"new-{pages}", "Owner Jones")).ToArray());
            pages++;
        } while (after is not null && pages < 20);

        var earlier = seen.Where(matches.Contains).ToList();
        Assert.Equal(matches.Order(), earlier.Order());
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    // ---- Statements ----

    /// <summary>Customer "cust" with 5000 pays order o1 to "merch" through payment p1.</summary>
    private static IEnumerable<RecordedEvent> OrderPaidBy(History h, string orderId, string paymentId, string customer, string merchant,
        long amount, string description, bool openAccounts = true)
    {
        if (openAccounts)
        {
            yield return h.Opened(customer, $"Customer {customer}");
            yield return h.Opened(merchant, $"Merchant {merchant}");
            yield return h.Deposited(customer, 5_000, reference: "salary");
        }
        var movement = new Movement(paymentId, orderId, amount, "EUR");
        yield return h.Order(new OrderEvent.OrderPlaced(orderId, customer, merchant, amount, "EUR", description, paymentId));
        yield return h.Payment(new PaymentEvent.PaymentInitiated(paymentId, orderId, customer, merchant, amount, "EUR", description, Settlement.Saga));
        yield return h.Account(new AccountEvent.PaymentDebited(customer, movement, Settlement.Saga));
        yield return h.Payment(new PaymentEvent.PayerDebited(paymentId, merchant, movement));
        yield return h.Account(new AccountEvent.PaymentCredited(merchant, movement, Settlement.Saga));
        yield return h.Payment(new PaymentEvent.PaymentCompleted(paymentId, orderId, Settlement.Saga));
        yield return h.Order(new OrderEvent.OrderPaid(orderId, paymentId));
    }

    private async Task<List<TransactionView>> StatementAsync(string accountId, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var lines = new List<TransactionView>();
        SortKey? after = null;
        do
        {
            var page = await Store.ListTransactionsAsync(new TransactionQuery(accountId, from, to, 2, after), None);
            lines.AddRange(page.Items);
            after = page.NextAfter;
        } while (after is not null);
        return lines;
    }

    [Fact]
    public async Task TheStatement_ShowsEachMovementOldestFirst_WithTheBalanceAfterIt_AndWhatCausedIt()
    {
        var h = new History();
        var events = OrderPaidBy(h, "o1", "p1", "cust", "merch", 1_200, "lamp").ToList();
        events.Add(h.Withdrawn("cust", 300, reference: "cash"));
        events.Add(h.Account(new AccountEvent.RefundDebited("merch", new Movement("p1", "o1", 1_200, "EUR"), Settlement.Saga)));
        events.Add(h.Account(new AccountEvent.RefundCredited("cust", new Movement("p1", "o1", 1_200, "EUR"), Settlement.Saga)));
        await ApplyAsync(h, events.ToArray());

        var customer = await StatementAsync("cust");
        var merchant = await StatementAsync("merch");

        Assert.Equal(
        [
            (TransactionKind.Deposit, 5_000L, 5_000L, "", ""),
            (TransactionKind.PaymentDebit, 1_200L, 3_800L, "p1", "o1"),
            (TransactionKind.Withdrawal, 300L, 3_500L, "", ""),
            (TransactionKind.RefundCredit, 1_200L, 4_700L, "p1", "o1"),
        ], customer.Select(t => (t.Kind, t.AmountMinor, t.BalanceAfterMinor, t.PaymentId, t.OrderId)));
        Assert.Equal(["salary", "cash"], customer.Where(t => t.PaymentId == "").Select(t => t.Reference));
        Assert.Equal(
        [
            (TransactionKind.PaymentCredit, 1_200L, 1_200L, "p1", "o1"),
            (TransactionKind.RefundDebit, 1_200L, 0L, "p1", "o1"),
        ], merchant.Select(t => (t.Kind, t.AmountMinor, t.BalanceAfterMinor, t.PaymentId, t.OrderId)));
        Assert.All(customer, t => Assert.Equal(("cust", "EUR"), (t.AccountId, t.CurrencyCode)));
        Assert.Equal(customer.OrderBy(t => t.Position).Select(t => t.TransactionId), customer.Select(t => t.TransactionId));
    }

    [Fact]
    public async Task TheStatement_FiltersByTimeRange_StartInclusive_EndExclusive()
    {
        var h = new History();
        var day = Day(2026, 3, 1);
        await ApplyAsync(h,
            h.At(day).Opened("a1", "Ada"),
            h.At(day.AddHours(1)).Deposited("a1", 1),
            h.At(day.AddHours(2)).Deposited("a1", 2),
            h.At(day.AddHours(3)).Deposited("a1", 4),
            h.At(day.AddHours(4)).Deposited("a1", 8));

        var lines = await StatementAsync("a1", day.AddHours(2), day.AddHours(4));

        Assert.Equal([2L, 4L], lines.Select(t => t.AmountMinor));
        Assert.Empty(await StatementAsync("nobody"));
    }

    [Fact]
    public async Task ATimeRangeBetweenTwoMicroseconds_IsExact_ThoughTimesAreKeptToTheMicrosecond()
    {
        // A Timestamp carries nanoseconds, .NET times 100 ns ticks; the stores keep microseconds. A movement at t is before
        // t + 100 ns: a range starting there leaves it out, one ending there takes it in, in statements and summaries alike.
        var h = new History();
        var t = Day(2026, 3, 1).AddHours(1).AddTicks(30); // 3 µs past the hour, a time the stores keep exactly
        await ApplyAsync(h, h.At(t).Opened("a1", "Ada"), h.At(t).Deposited("a1", 1), h.At(t.AddHours(1)).Deposited("a1", 2));
        var justAfter = t.AddTicks(1);

        Assert.Equal([2L], (await StatementAsync("a1", from: justAfter)).Select(l => l.AmountMinor));
        Assert.Equal([1L], (await StatementAsync("a1", to: justAfter)).Select(l => l.AmountMinor));
        var from = await Store.SummarizeTransactionsAsync(new SummaryQuery("a1", null, justAfter, null, SummaryInterval.Day), None);
        var to = await Store.SummarizeTransactionsAsync(new SummaryQuery("a1", null, null, justAfter, SummaryInterval.Day), None);
        Assert.Equal((2L, 1L), (from.Totals.CreditMinor, to.Totals.CreditMinor));
        Assert.Equal([1L, 2L], (await StatementAsync("a1", to: DateTimeOffset.MaxValue)).Select(l => l.AmountMinor));
    }

    // ---- Summaries ----

    private static DateTimeOffset Day(int year, int month, int day) => new(year, month, day, 0, 0, 0, TimeSpan.Zero);

    private async Task SeedMovementsAsync()
    {
        var h = new History();
        var jan31 = new DateTimeOffset(2026, 1, 31, 22, 0, 0, TimeSpan.Zero);
        var feb1 = Day(2026, 2, 1);
        var feb2 = feb1.AddDays(1);
        await ApplyAsync(h,
            h.At(jan31).Opened("a1", "Ada"), h.Opened("a2", "Bob"), h.Opened("u1", "Uma", "USD"),
            h.Deposited("a1", 1_000),
            h.Withdrawn("a1", 100),
            h.Deposited("a2", 50),
            h.At(feb1.AddHours(3)).Deposited("a1", 500),
            h.Account(new AccountEvent.PaymentDebited("a1", new Movement("p1", "", 200, "EUR"), Settlement.Saga)),
            h.Account(new AccountEvent.PaymentCredited("a2", new Movement("p1", "", 200, "EUR"), Settlement.Saga)),
            h.At(feb2.AddHours(23).AddMinutes(59)).Account(new AccountEvent.RefundCredited("a1", new Movement("p1", "", 200, "EUR"), Settlement.Saga)),
            h.Account(new AccountEvent.RefundDebited("a2", new Movement("p1", "", 200, "EUR"), Settlement.Saga)),
            h.Deposited("u1", 9_999, "USD"));
    }

    [Fact]
    public async Task DailySummaryOfOneAccount_SumsCreditsAndDebitsPerUtcDay()
    {
        await SeedMovementsAsync();
        var summary = await Store.SummarizeTransactionsAsync(new SummaryQuery("a1", null, null, null, SummaryInterval.Day), None);

        Assert.Equal(
        [
            new SummaryBucket(Day(2026, 1, 31), 1_000, 1, 100, 1),
            new SummaryBucket(Day(2026, 2, 1), 500, 1, 200, 1),
            new SummaryBucket(Day(2026, 2, 2), 200, 1, 0, 0),
        ], summary.Buckets);
        Assert.Equal(new SummaryBucket(null, 1_700, 3, 300, 2), summary.Totals);
    }

    [Fact]
    public async Task MonthlySummaryOfEveryAccountInACurrency_NeverMixesCurrencies()
    {
        await SeedMovementsAsync();
        var summary = await Store.SummarizeTransactionsAsync(new SummaryQuery(null, "EUR", null, null, SummaryInterval.Month), None);

        Assert.Equal(
        [
            new SummaryBucket(Day(2026, 1, 1), 1_050, 2, 100, 1),
            new SummaryBucket(Day(2026, 2, 1), 900, 3, 400, 2),
        ], summary.Buckets);
        Assert.Equal(new SummaryBucket(null, 1_950, 5, 500, 3), summary.Totals);
    }

    [Fact]
    public async Task SummaryOverATimeRange_CountsOnlyMovementsInIt()
    {
        await SeedMovementsAsync();
        var feb1 = Day(2026, 2, 1);
        var summary = await Store.SummarizeTransactionsAsync(new SummaryQuery(null, "EUR", feb1, feb1.AddDays(1), SummaryInterval.Day), None);

        Assert.Equal([new SummaryBucket(feb1, 700, 2, 200, 1)], summary.Buckets);
        Assert.Equal(new SummaryBucket(null, 700, 2, 200, 1), summary.Totals);
        var empty = await Store.SummarizeTransactionsAsync(new SummaryQuery("nobody", null, null, null, SummaryInterval.Day), None);
        Assert.Equal((0, new SummaryBucket(null, 0, 0, 0, 0)), (empty.Buckets.Count, empty.Totals));
    }

    [Fact]
    public async Task ASummaryWhoseSumPassesInt64_IsSumOutOfRange_NeverAWrappedSum()
    {
        // Each amount a store is given may be large; only their sums pass int64 (a day's in one account, the totals of
        // two days in the other).
        var h = new History();
        var day1 = Day(2026, 3, 1);
        const long half = long.MaxValue / 2 + 1;
        await ApplyAsync(h,
            h.At(day1).Opened("big-1", "Ada"), h.Opened("big-2", "Bob"),
            h.Deposited("big-1", half), h.Deposited("big-1", half),
            h.Deposited("big-2", half), h.At(day1.AddDays(1)).Deposited("big-2", half));

        await Assert.ThrowsAsync<SumOutOfRangeException>(() => Store.SummarizeTransactionsAsync(new SummaryQuery("big-1", null, null, null, SummaryInterval.Day), None));
        await Assert.ThrowsAsync<SumOutOfRangeException>(() => Store.SummarizeTransactionsAsync(new SummaryQuery("big-2", null, null, null, SummaryInterval.Day), None));
        var oneDay = await Store.SummarizeTransactionsAsync(new SummaryQuery("big-2", null, day1, day1.AddDays(1), SummaryInterval.Day), None);
        Assert.Equal(new SummaryBucket(null, half, 1, 0, 0), oneDay.Totals);
    }

    // ---- Orders and payments ----

    /// <summary>o1 paid (cust→merch, "reading lamp"), o2 cancelled (cust→shop, "garden chairs"), o3 placed (alt→merch, "desk lamp").</summary>
    private async Task SeedOrdersAsync()
    {
        var h = new History();
        var events = OrderPaidBy(h, "o1", "p1", "cust", "merch", 1_000, "Reading lamp").ToList();
        events.Add(h.Opened("shop", "Shop"));
        events.Add(h.Opened("alt", "Alt"));
        events.Add(h.Order(new OrderEvent.OrderPlaced("o2", "cust", "shop", 9_000, "EUR", "Garden chairs", "p2")));
        events.Add(h.Payment(new PaymentEvent.PaymentInitiated("p2", "o2", "cust", "shop", 9_000, "EUR", "", Settlement.Saga)));
        events.Add(h.Payment(new PaymentEvent.PaymentFailed("p2", "o2", "INSUFFICIENT_FUNDS", Settlement.Saga)));
        events.Add(h.Order(new OrderEvent.OrderCancelled("o2", "INSUFFICIENT_FUNDS")));
        events.Add(h.Order(new OrderEvent.OrderPlaced("o3", "alt", "merch", 300, "EUR", "Desk lämp", "p3")));
        events.Add(h.Payment(new PaymentEvent.PaymentInitiated("p3", "o3", "alt", "merch", 300, "EUR", "", Settlement.Saga)));
        events.Add(h.Payment(new PaymentEvent.PaymentInitiated("t1", "", "merch", "shop", 50, "EUR", "transfer", Settlement.Saga)));
        await Store.ApplyAsync(events, h.Position, None);
    }

    private async Task<List<string>> OrdersFoundAsync(string text = "", OrderViewStatus? status = null, string? customer = null, string? merchant = null)
    {
        var page = await Store.SearchOrdersAsync(new OrderSearch(text, status, customer, merchant, 100, null), None);
        Assert.Equal(page.Items.Count, page.TotalSize);
        return page.Items.Select(o => o.OrderId).ToList();
    }

    [Fact]
    public async Task OrderSearch_NewestFirst_FiltersByStatusCustomerMerchantAndText()
    {
        await SeedOrdersAsync();
        Assert.Equal(["o3", "o2", "o1"], await OrdersFoundAsync());
        Assert.Equal(["o2"], await OrdersFoundAsync(status: OrderViewStatus.Cancelled));
        Assert.Equal(["o2", "o1"], await OrdersFoundAsync(customer: "cust"));
        Assert.Equal(["o3", "o1"], await OrdersFoundAsync(merchant: "merch"));
        Assert.Equal(["o3", "o1"], await OrdersFoundAsync("lamp"));
        Assert.Equal(["o1"], await OrdersFoundAsync("read lam"));
        Assert.Equal(["o2"], await OrdersFoundAsync("gard", customer: "cust"));
        Assert.Empty(await OrdersFoundAsync("lamp", status: OrderViewStatus.Cancelled));
    }

    private async Task<List<string>> PaymentsFoundAsync(PaymentViewStatus? status = null, string? account = null, string? order = null, int pageSize = 100)
    {
        var ids = new List<string>();
        SortKey? after = null;
        do
        {
            var page = await Store.SearchPaymentsAsync(new PaymentSearch(status, account, order, pageSize, after), None);
            ids.AddRange(page.Items.Select(p => p.PaymentId));
            after = page.NextAfter;
        } while (after is not null);
        return ids;
    }

    [Fact]
    public async Task PaymentSearch_NewestFirst_FiltersByStatusAccountOnEitherSideAndOrder()
    {
        await SeedOrdersAsync();
        Assert.Equal(["t1", "p3", "p2", "p1"], await PaymentsFoundAsync());
        Assert.Equal(["t1", "p3", "p2", "p1"], await PaymentsFoundAsync(pageSize: 1));
        Assert.Equal(["t1", "p3"], await PaymentsFoundAsync(PaymentViewStatus.Initiated));
        Assert.Equal(["p2"], await PaymentsFoundAsync(PaymentViewStatus.Failed));
        Assert.Equal(["t1", "p3", "p1"], await PaymentsFoundAsync(account: "merch"));
        Assert.Equal(["p2", "p1"], await PaymentsFoundAsync(account: "cust"));
        Assert.Equal(["p3"], await PaymentsFoundAsync(order: "o3"));
        Assert.Equal(["t1"], await PaymentsFoundAsync(PaymentViewStatus.Initiated, "shop"));
    }
}
