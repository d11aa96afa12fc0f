using Grpc.Core;
using Grpc.Net.Client;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;

namespace GrpcBank.Bus.Tests;

/// <summary>
/// Every kind of command on a handful of accounts, from several writers at once: deposits, withdrawals (some refused),
/// transfers and their refunds, orders (paid, or cancelled for want of funds, by the payment process), freezes.
/// Refusals are part of the mix: they write nothing, so nothing of theirs may reach the bus either.
/// </summary>
public static class MixedWorkload
{
    public static async Task<string[]> OpenAccountsAsync(GrpcChannel channel, int count)
    {
        var accounts = new AccountService.AccountServiceClient(channel);
        var ids = Enumerable.Range(0, count).Select(_ => $"bus-{Guid.NewGuid():N}"[..16]).ToArray();
        foreach (var id in ids)
        {
            await accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Owner {id}", CurrencyCode = "EUR" });
            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = 10_000, CurrencyCode = "EUR", Reference = "opening" });
        }
        return ids;
    }

    /// <summary>Runs <paramref name="writers"/> writers, each doing <paramref name="rounds"/> rounds (or until <paramref name="stop"/>).</summary>
    public static Task RunAsync(GrpcChannel channel, string[] ids, int writers, int rounds, CancellationToken stop = default) =>
        Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var accounts = new AccountService.AccountServiceClient(channel);
            var payments = new PaymentService.PaymentServiceClient(channel);
            var orders = new OrderService.OrderServiceClient(channel);
            for (var n = 0; n < rounds && !stop.IsCancellationRequested; n++)
            {
                var a = ids[(w + n) % ids.Length];
                var b = ids[(w + n + 1) % ids.Length];
                await RefusalsAllowedAsync(async () =>
                {
                    switch (n % 6)
                    {
                        case 0:
                            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = a, AmountMinor = 100 + n, CurrencyCode = "EUR", Reference = $"w{w} n{n}" });
                            break;
                        case 1:
                            // Every fourth one asks for more than any balance: refused, writes nothing.
                            await accounts.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = a, AmountMinor = n % 4 == 1 ? 10_000_000 : 50, CurrencyCode = "EUR" });
                            break;
                        case 2:
                            var transfer = await payments.TransferMoneyAsync(new TransferMoneyRequest { FromAccountId = a, ToAccountId = b, AmountMinor = 75, CurrencyCode = "EUR", Reference = "rent" });
                            if (n % 4 == 2) await payments.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = transfer.PaymentId, Reason = "duplicate" });
                            break;
                        case 3:
                            var order = await orders.PlaceOrderAsync(new PlaceOrderRequest
                            {
                                CustomerAccountId = a, MerchantAccountId = b, CurrencyCode = "EUR", Description = "book",
                                AmountMinor = n % 4 == 3 ? 9_000_000 : 120, // the large ones are declined for want of funds
                            });
                            if (order.Authorized) await orders.FulfillOrderAsync(new FulfillOrderRequest { OrderId = order.OrderId });
                            break;
                        case 4:
                            await accounts.FreezeAccountAsync(new FreezeAccountRequest { AccountId = a, Reason = "review" });
                            await accounts.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = a });
                            break;
                        default:
                            await accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = b, AmountMinor = 10, CurrencyCode = "EUR" });
                            break;
                    }
                });
            }
        })));

    /// <summary>Business refusals and conflicts between the writers are part of the workload; anything else is not.</summary>
    private static async Task RefusalsAllowedAsync(Func<Task> command)
    {
        try
        {
            await command();
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.FailedPrecondition or StatusCode.Aborted)
        {
        }
    }

    /// <summary>Every event the event store holds, in position order.</summary>
    public static async Task<List<RecordedEvent>> StoredAsync(IEventStore store)
    {
        var all = new List<RecordedEvent>();
        while (true)
        {
            var page = await store.ReadAllAsync(all.Count == 0 ? 0 : all[^1].Position, 1_000, CancellationToken.None);
            if (page.Count == 0) return all;
            all.AddRange(page);
        }
    }
}
