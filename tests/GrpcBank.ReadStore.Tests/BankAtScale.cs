using GrpcBank.Application.EventStore;
using GrpcBank.Domain;
using GrpcBank.Domain.Accounts;
using GrpcBank.Domain.Orders;
using GrpcBank.Domain.Payments;

namespace GrpcBank.ReadStore.Tests;

/// <summary>
/// A bank's history of a given size, in event batches as the relay hands them over: accounts with owner names from a
/// small pool of first and last names (so names repeat, as real ones do), statement lines spread over the accounts with
/// a few busy ones (a merchant's statement is long), transfers between accounts in every status, and holds.
/// </summary>
public sealed class BankAtScale(int accounts, int lines, int payments, int holds, int orders)
{
    private static readonly string[] FirstNames =
        ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Niklaus", "Radia", "Tony"];

    private static readonly string[] LastNames =
        ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Hamilton", "Wirth", "Perlman", "Hoare",
         "Lindström", "Müller", "Nakamura", "Okafor", "Silva", "Kowalski", "Novak", "Haddad"];

    /// <summary>The id of account <paramref name="i"/>; the first ten are the busy ones.</summary>
    public static string AccountId(int i) => $"acc-{i:D7}";

    public History History { get; } = new();

    public IEnumerable<IReadOnlyList<RecordedEvent>> Batches(int size) => Events().Chunk(size);

    private IEnumerable<RecordedEvent> Events()
    {
        var random = new Random(7);
        for (var i = 0; i < accounts; i++)
            yield return History.Opened(AccountId(i), $"{FirstNames[i % FirstNames.Length]} {LastNames[i / FirstNames.Length % LastNames.Length]} {i}",
                i % 10 == 9 ? "USD" : "EUR");
        for (var i = 0; i < lines; i++)
        {
            // A tenth of the lines go to the ten busy accounts.
            var account = i % 10 == 0 ? i / 10 % 10 : random.Next(accounts);
            var currency = account % 10 == 9 ? "USD" : "EUR";
            yield return i % 4 == 3
                ? History.Withdrawn(AccountId(account), 1 + random.Next(100), currency)
                : History.Deposited(AccountId(account), 1 + random.Next(10_000), currency);
        }
        for (var i = 0; i < payments; i++)
        {
            var (from, to) = (random.Next(accounts / 10) * 10, random.Next(accounts / 10) * 10 + 1);
            var id = $"pay-{i:D7}";
            yield return History.Payment(new PaymentEvent.PaymentInitiated(id, "", AccountId(from), AccountId(to), 100, "EUR", "rent", Settlement.Saga));
            if (i % 50 == 0) continue; // in flight
            yield return i % 20 == 1
                ? History.Payment(new PaymentEvent.PaymentFailed(id, "", "INSUFFICIENT_FUNDS", Settlement.Saga))
                : History.Payment(new PaymentEvent.PaymentCompleted(id, "", Settlement.Saga));
        }
        for (var i = 0; i < holds; i++)
        {
            var account = i % 10 == 0 ? 0 : random.Next(accounts);
            yield return History.Account(new AccountEvent.HoldPlaced(AccountId(account), $"hold-{i:D7}", 1, account % 10 == 9 ? "USD" : "EUR",
                "auth", History.Now.AddDays(7)));
        }
        string[] things = ["lamp", "desk", "chair", "bicycle", "kettle", "piano", "book", "coat"];
        for (var i = 0; i < orders; i++)
        {
            var (customer, merchant) = (random.Next(accounts / 10) * 10, i % 10);
            var id = $"ord-{i:D7}";
            yield return History.Order(new OrderEvent.OrderPlaced(id, AccountId(customer), AccountId(merchant), 100, "EUR",
                $"{things[i % things.Length]} {i}", $"pay-{id}"));
            if (i % 7 == 0) yield return History.Order(new OrderEvent.OrderCancelled(id, "changed my mind"));
        }
    }
}
