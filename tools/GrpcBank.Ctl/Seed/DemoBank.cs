using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Ctl.Cli;

namespace GrpcBank.Ctl.Seed;

/// <summary>What seeding did, for the summary.</summary>
public sealed record SeedSummary(
    int Customers, int Merchants, IReadOnlyDictionary<string, int> AccountsByCurrency, int Deposits, int Withdrawals,
    int OrdersPaid, int OrdersCancelled, int Transfers, int Refunds, long LastPosition,
    string ExampleCustomer, string ExampleMerchant, string? ExamplePaidOrder, string? ExampleCancelledOrder, string? ExampleRefundedPayment);

/// <summary>
/// Builds a small, believable bank through the public RPCs only. Every draw comes from one Random(seed) and every
/// command carries a request id derived from the seed, so the same seed gives the same bank, and running it again
/// against the same server changes nothing.
/// </summary>
public sealed class DemoBank(Session session, int accounts, int orders, int seed, CancellationToken ct)
{
    private const string Eur = "EUR";
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(30);

    private readonly Random random = new(seed);
    private readonly AccountService.AccountServiceClient accountsClient = new(session.Channel);
    private readonly OrderService.OrderServiceClient ordersClient = new(session.Channel);
    private readonly PaymentService.PaymentServiceClient paymentsClient = new(session.Channel);
    private readonly QueryService.QueryServiceClient query = new(session.Channel);
    private readonly Dictionary<string, long> balances = [];
    private readonly Dictionary<string, string> currencies = [];
    private long lastPosition;

    private string Id(string kind, int n) => $"s{seed}-{kind}{n:D3}";

    private string RequestId(string what) => $"seed-{seed}-{what}";

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private long Amount(long min, long max) => random.NextInt64(min, max + 1) / 10 * 10;

    public async Task<SeedSummary> RunAsync()
    {
        var merchantCount = Math.Max(2, accounts / 5);
        var customerCount = accounts - merchantCount;
        var customers = Enumerable.Range(1, customerCount).Select(i => Id("c", i)).ToList();
        var merchants = Enumerable.Range(1, merchantCount).Select(i => Id("m", i)).ToList();

        // At least two thirds in euros, and never fewer than two, so there is someone to pay and be paid.
        var foreign = Math.Min(customerCount - 2, customerCount / 5);
        var foreignAt = customers.OrderBy(_ => random.Next()).Take(Math.Max(0, foreign)).ToHashSet();
        foreach (var id in customers)
            await OpenAsync(id, $"{Pick(DemoPeople.FirstNames)} {Pick(DemoPeople.LastNames)}", foreignAt.Contains(id) ? Pick(DemoPeople.OtherCurrencies) : Eur);
        for (var i = 0; i < merchants.Count; i++)
            await OpenAsync(merchants[i], DemoPeople.Merchants[i % DemoPeople.Merchants.Length] + (i >= DemoPeople.Merchants.Length ? $" {i / DemoPeople.Merchants.Length + 1}" : ""), Eur);

        var deposits = 0;
        foreach (var id in customers)
        {
            // About one customer in five lives on little, so some of their orders fail for lack of funds.
            var frugal = random.Next(5) == 0;
            for (var n = random.Next(1, 4); n > 0; n--)
                await DepositAsync(id, frugal ? Amount(1_000, 6_000) : Amount(40_000, 350_000), Pick(DemoPeople.DepositReferences), ++deposits);
        }

        var withdrawals = 0;
        foreach (var id in customers.Where(_ => random.Next(10) < 4))
        {
            var amount = Math.Min(balances[id], Amount(2_000, 20_000));
            if (amount > 0) await WithdrawAsync(id, amount, Pick(DemoPeople.WithdrawalReferences), ++withdrawals);
        }

        var euroCustomers = customers.Where(id => currencies[id] == Eur).ToList();
        var (paid, cancelled) = (new List<string>(), new List<string>());
        for (var n = 1; n <= orders; n++)
        {
            var (description, min, max) = Pick(DemoPeople.Purchases);
            var order = await PlaceOrderAsync(Id("o", n), Pick(euroCustomers), Pick(merchants), Amount(min, max), description, n);
            (order.Status == OrderStatus.Paid ? paid : cancelled).Add(order.OrderId);
        }

        var transfers = new List<Payment>();
        for (var n = 1; n <= Math.Max(1, euroCustomers.Count / 3); n++)
        {
            var from = euroCustomers.OrderByDescending(id => balances[id]).ThenBy(id => id, StringComparer.Ordinal).First();
            var to = Pick(euroCustomers.Where(id => id != from).ToList());
            var amount = Math.Min(balances[from], Amount(1_500, 25_000));
            if (amount > 0) transfers.Add(await TransferAsync(Id("t", n), from, to, amount, Pick(DemoPeople.TransferReferences), n));
        }

        var refunded = transfers.FirstOrDefault(MoneyMoved) is { } completed
            ? await RefundAsync(completed, "sent twice by mistake")
            : null;

        return new SeedSummary(customers.Count, merchants.Count,
            currencies.GroupBy(kv => kv.Value).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            deposits, withdrawals, paid.Count, cancelled.Count, transfers.Count, refunded is null ? 0 : 1, lastPosition,
            euroCustomers[0], merchants[0], paid.FirstOrDefault(), cancelled.FirstOrDefault(), refunded?.PaymentId);
    }

    private async Task OpenAsync(string id, string owner, string currency)
    {
        var reply = await accountsClient.OpenAccountAsync(new OpenAccountRequest
        {
            AccountId = id, OwnerName = owner, CurrencyCode = currency, RequestId = RequestId($"open-{id}"),
        }, session.Call(ct));
        (balances[id], currencies[id]) = (0, currency);
        Advance(reply.Position);
    }

    private async Task DepositAsync(string id, long amount, string reference, int n)
    {
        var reply = await accountsClient.DepositMoneyAsync(new DepositMoneyRequest
        {
            AccountId = id, AmountMinor = amount, CurrencyCode = currencies[id], Reference = reference, RequestId = RequestId($"deposit-{n}"),
        }, session.Call(ct));
        balances[id] = reply.BalanceMinor;
        Advance(reply.Position);
    }

    private async Task WithdrawAsync(string id, long amount, string reference, int n)
    {
        var reply = await accountsClient.WithdrawMoneyAsync(new WithdrawMoneyRequest
        {
            AccountId = id, AmountMinor = amount, CurrencyCode = currencies[id], Reference = reference, RequestId = RequestId($"withdraw-{n}"),
        }, session.Call(ct));
        balances[id] = reply.BalanceMinor;
        Advance(reply.Position);
    }

    /// <summary>
    /// Places the order (its amount held, or declined for want of funds) and fulfils an authorised one at once (the hold
    /// captured, the merchant paid), so the next draw sees the real balances.
    /// </summary>
    private async Task<Order> PlaceOrderAsync(string orderId, string customer, string merchant, long amount, string description, int n)
    {
        var placed = await ordersClient.PlaceOrderAsync(new PlaceOrderRequest
        {
            OrderId = orderId, CustomerAccountId = customer, MerchantAccountId = merchant, AmountMinor = amount, CurrencyCode = Eur,
            Description = description, RequestId = RequestId($"order-{n}"),
        }, session.Call(ct));
        Advance(placed.Position);
        if (placed.Authorized)
        {
            var fulfilled = await ordersClient.FulfillOrderAsync(new FulfillOrderRequest { OrderId = orderId, RequestId = RequestId($"fulfil-{n}") },
                session.Call(ct));
            Advance(fulfilled.Position);
        }
        var order = await SettledAsync(async minPosition =>
        {
            var reply = await query.GetOrderAsync(new GetOrderRequest { OrderId = orderId, MinPosition = minPosition }, session.Call(ct));
            return (reply.Order.Status is OrderStatus.Placed or OrderStatus.Authorized ? null : reply.Order, reply.Position);
        }, lastPosition, $"order {orderId}");
        if (order.Status == OrderStatus.Paid)
        {
            balances[customer] -= amount;
            balances[merchant] += amount;
        }
        return order;
    }

    private async Task<Payment> TransferAsync(string paymentId, string from, string to, long amount, string reference, int n)
    {
        var started = await paymentsClient.TransferMoneyAsync(new TransferMoneyRequest
        {
            PaymentId = paymentId, FromAccountId = from, ToAccountId = to, AmountMinor = amount, CurrencyCode = currencies[from],
            Reference = reference, RequestId = RequestId($"transfer-{n}"),
        }, session.Call(ct));
        Advance(started.Position);
        var payment = await PaymentAsync(started.PaymentId, started.Position, PaymentStatus.Initiated);
        if (MoneyMoved(payment))
        {
            balances[from] -= amount;
            balances[to] += amount;
        }
        return payment;
    }

    private async Task<Payment> RefundAsync(Payment payment, string reason)
    {
        var reply = await paymentsClient.RefundPaymentAsync(new RefundPaymentRequest
        {
            PaymentId = payment.PaymentId, Reason = reason, RequestId = RequestId($"refund-{payment.PaymentId}"),
        }, session.Call(ct));
        Advance(reply.Position);
        return await PaymentAsync(payment.PaymentId, reply.Position, PaymentStatus.Completed);
    }

    /// <summary>Refunded counts too: on a second run with the same seed, the refund of the first run has already happened.</summary>
    private static bool MoneyMoved(Payment payment) => payment.Status is PaymentStatus.Completed or PaymentStatus.Refunded;

    /// <summary>The payment once it has left <paramref name="pending"/>.</summary>
    private Task<Payment> PaymentAsync(string paymentId, long position, PaymentStatus pending) =>
        SettledAsync(async minPosition =>
        {
            var reply = await query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paymentId, MinPosition = minPosition }, session.Call(ct));
            return (reply.Payment.Status == pending ? null : reply.Payment, reply.Position);
        }, position, $"payment {paymentId}");

    /// <summary>Polls the read side (never older than what we wrote) until the payment process has moved the thing on.</summary>
    private async Task<T> SettledAsync<T>(Func<long, Task<(T? Value, long Position)>> probe, long minPosition, string what) where T : class
    {
        var until = DateTime.UtcNow + SettleTimeout;
        while (true)
        {
            var (value, position) = await probe(minPosition);
            Advance(position);
            if (value is not null) return value;
            if (DateTime.UtcNow > until)
                throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"the payment process did not settle {what} within {SettleTimeout.TotalSeconds} s"));
            await Task.Delay(25, ct);
        }
    }

    private void Advance(long position) => lastPosition = Math.Max(lastPosition, position);
}
