using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>What a client of the bank does in a test, in the bank's words.</summary>
public sealed class Bank(BankHost host)
{
    public AccountService.AccountServiceClient Accounts => host.Accounts;
    public OrderService.OrderServiceClient Orders => new(host.Channel);
    public PaymentService.PaymentServiceClient Payments => new(host.Channel);
    public QueryService.QueryServiceClient Query => host.Query;

    public async Task<string> OpenAsync(long deposit = 0, string currency = "EUR")
    {
        var id = Rpc.NewId();
        await Accounts.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = $"Owner {id[..6]}", CurrencyCode = currency });
        if (deposit > 0)
            await Accounts.DepositMoneyAsync(new DepositMoneyRequest { AccountId = id, AmountMinor = deposit, CurrencyCode = currency });
        return id;
    }

    public async Task<Account> AccountAsync(string accountId, long minPosition = 0) =>
        (await Query.GetAccountAsync(new GetAccountRequest { AccountId = accountId, MinPosition = minPosition })).Account;

    /// <summary>The order once the payment process has settled it (paid or cancelled).</summary>
    public Task<Order> SettledOrderAsync(string orderId) =>
        EventuallyAsync(async () =>
        {
            var order = (await Query.GetOrderAsync(new GetOrderRequest { OrderId = orderId })).Order;
            return order.Status == OrderStatus.Placed ? null : order;
        });

    /// <summary>The payment once it has left the given status.</summary>
    public Task<Payment> PaymentAsync(string paymentId, PaymentStatus until) =>
        EventuallyAsync(async () =>
        {
            var payment = (await Query.GetPaymentAsync(new GetPaymentRequest { PaymentId = paymentId })).Payment;
            return payment.Status == until ? payment : null;
        });

    /// <summary>Polls until <paramref name="probe"/> yields a value (the read side is eventually consistent), for at most 30 s.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe) where T : class
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                if (await probe() is { } value) return value;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
            }
            if (DateTime.UtcNow > until) throw new TimeoutException("the bank did not settle within 30 s");
            await Task.Delay(50);
        }
    }
}
