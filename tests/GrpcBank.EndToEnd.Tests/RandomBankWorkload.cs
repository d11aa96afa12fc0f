using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using GrpcBank.Application.Accounts;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Batch.V1;
using GrpcBank.Contracts.Orders.V1;
using GrpcBank.Contracts.Payments.V1;
using GrpcBank.Testing;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// A seeded random run of commands through the real server: every command the bank takes, many of them refused (the
/// refusals are part of the run: they must write nothing). The same seed makes the same requests.
/// </summary>
public sealed class RandomBankWorkload(BankHost host, ManualClock clock, int seed)
{
    private readonly Random random = new(seed);
    private readonly List<string> accounts = [];
    private readonly List<string> payments = [];
    private readonly List<string> orders = [];
    private readonly List<(string Account, string Hold)> holds = [];
    private readonly AccountService.AccountServiceClient bank = host.Accounts;
    private readonly PaymentService.PaymentServiceClient paymentsClient = new(host.Channel);
    private readonly OrderService.OrderServiceClient ordersClient = new(host.Channel);
    private readonly BatchService.BatchServiceClient batches = new(host.Channel);
    private int next;

    // Owner names that share words and prefixes, differ only in case, and tie, so that sorts and ties are tested.
    private static readonly string[] Owners = ["Ada Lovelace", "ada lovelace", "Alan Turing", "Grace Hopper", "Grace", "Edsger Dijkstra", "Zoë Ünal", "Ada"];

    public async Task RunAsync(int steps)
    {
        for (var i = 0; i < 4; i++) await OpenAsync();
        for (var i = 0; i < steps; i++)
        {
            // Time moves between commands, by milliseconds to weeks: statements, summaries (days, months) and holds' expiry see it.
            clock.Advance(TimeSpan.FromMilliseconds(random.Next(4) switch
            {
                0 => 0, 1 => random.Next(1, 1_000), 2 => random.Next(1, 3_600_000), _ => random.NextInt64(1, 12L * 86_400_000),
            }));
            try
            {
                await StepAsync();
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound or StatusCode.AlreadyExists or StatusCode.Aborted)
            {
                // A business refusal: nothing written, nothing for the read side to show.
            }
        }
    }

    private string Id(string kind) => $"{kind}-{seed}-{next++:D4}";

    private T Any<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>An account other than this one (paying oneself is a malformed request, not a business refusal).</summary>
    private string Other(string account) => Any(accounts.Where(a => a != account).ToList());

    private string Currency => random.Next(4) == 0 ? "USD" : "EUR";

    private long Amount => random.Next(3) == 0 ? random.Next(1, 100) : random.Next(100, 50_000);

    private async Task OpenAsync()
    {
        var id = Id("acc");
        await bank.OpenAccountAsync(new OpenAccountRequest { AccountId = id, OwnerName = Any(Owners), CurrencyCode = Currency });
        accounts.Add(id);
    }

    private async Task StepAsync()
    {
        var account = Any(accounts);
        switch (random.Next(22))
        {
            case 0 or 1: await OpenAsync(); break;
            case 2 or 3 or 4:
                await bank.DepositMoneyAsync(new DepositMoneyRequest { AccountId = account, AmountMinor = Amount, CurrencyCode = "EUR", Reference = $"dep {next++}" });
                break;
            case 5:
                await bank.DepositMoneyAsync(new DepositMoneyRequest { AccountId = account, AmountMinor = Amount, CurrencyCode = "USD" });
                break;
            case 6:
                await bank.WithdrawMoneyAsync(new WithdrawMoneyRequest { AccountId = account, AmountMinor = Amount, CurrencyCode = "EUR", Reference = "cash" });
                break;
            case 7 or 8: await TransferAsync(account, Other(account)); break;
            case 9 when payments.Count > 0:
                await paymentsClient.RefundPaymentAsync(new RefundPaymentRequest { PaymentId = Any(payments), Reason = "returned" });
                break;
            case 10 or 11:
                var hold = Id("hold");
                holds.Add((account, hold));
                await bank.PlaceHoldAsync(new PlaceHoldRequest
                {
                    AccountId = account, HoldId = hold, AmountMinor = Amount, CurrencyCode = "EUR", Reference = $"auth {hold}",
                    Ttl = Duration.FromTimeSpan(TimeSpan.FromMinutes(random.Next(1, 3 * 24 * 60))),
                });
                break;
            case 12 when holds.Count > 0:
                var (holder, captured) = Any(holds);
                await bank.CaptureHoldAsync(new CaptureHoldRequest
                {
                    AccountId = holder, HoldId = captured, AmountMinor = random.Next(2) == 0 ? 0 : random.Next(1, 500), Reference = "capture",
                });
                break;
            case 13 when holds.Count > 0:
                var (owner, released) = Any(holds);
                await bank.ReleaseHoldAsync(new ReleaseHoldRequest { AccountId = owner, HoldId = released });
                break;
            case 14: await host.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None); break;
            case 15:
                await bank.SetOverdraftLimitAsync(new SetOverdraftLimitRequest { AccountId = account, LimitMinor = random.Next(3) * 5_000 });
                break;
            case 16:
                // A restriction blocks debits, credits or both (blocking neither is a malformed request).
                var blocks = random.Next(1, 4);
                if (random.Next(2) == 0)
                    await bank.RestrictAccountAsync(new RestrictAccountRequest { AccountId = account, BlockDebits = (blocks & 1) != 0, BlockCredits = (blocks & 2) != 0, Reason = "review" });
                else await bank.LiftRestrictionAsync(new LiftRestrictionRequest { AccountId = account });
                break;
            case 17:
                if (random.Next(2) == 0) await bank.FreezeAccountAsync(new FreezeAccountRequest { AccountId = account, Reason = "review" });
                else await bank.UnfreezeAccountAsync(new UnfreezeAccountRequest { AccountId = account });
                break;
            case 18 when random.Next(3) == 0: await bank.CloseAccountAsync(new CloseAccountRequest { AccountId = account }); break;
            case 19:
                var order = Id("ord");
                orders.Add(order);
                await ordersClient.PlaceOrderAsync(new PlaceOrderRequest
                {
                    OrderId = order, CustomerAccountId = account, MerchantAccountId = Other(account), AmountMinor = Amount, CurrencyCode = "EUR",
                    Description = $"{Any(["book", "lamp", "chair"])} {order}",
                    AuthorizationTtl = Duration.FromTimeSpan(TimeSpan.FromMinutes(random.Next(1, 3 * 24 * 60))),
                });
                break;
            case 20 when orders.Count > 0:
                if (random.Next(3) == 0) await ordersClient.CancelOrderAsync(new CancelOrderRequest { OrderId = Any(orders), Reason = "changed my mind" });
                else await ordersClient.FulfillOrderAsync(new FulfillOrderRequest { OrderId = Any(orders) });
                break;
            case 21: await BatchAsync(); break;
        }
    }

    private async Task TransferAsync(string from, string to)
    {
        var id = Id("pay");
        payments.Add(id);
        await paymentsClient.TransferMoneyAsync(new TransferMoneyRequest
        {
            PaymentId = id, FromAccountId = from, ToAccountId = to, AmountMinor = Amount, CurrencyCode = "EUR", Reference = "rent",
        });
    }

    private async Task BatchAsync()
    {
        var request = new ExecuteBatchRequest { Atomic = random.Next(2) == 0 };
        for (var i = random.Next(1, 5); i > 0; i--)
        {
            var account = Any(accounts);
            request.Commands.Add(random.Next(3) switch
            {
                0 => new BatchCommand { Deposit = new DepositMoneyRequest { AccountId = account, AmountMinor = Amount, CurrencyCode = "EUR", Reference = "batch" } },
                1 => new BatchCommand { Withdraw = new WithdrawMoneyRequest { AccountId = account, AmountMinor = Amount, CurrencyCode = "EUR", Reference = "batch" } },
                _ => new BatchCommand { Transfer = Transfer(account) },
            });
        }
        await batches.ExecuteBatchAsync(request);
    }

    private TransferMoneyRequest Transfer(string from)
    {
        var id = Id("pay");
        payments.Add(id);
        return new TransferMoneyRequest { PaymentId = id, FromAccountId = from, ToAccountId = Other(from), AmountMinor = Amount, CurrencyCode = "EUR" };
    }
}
