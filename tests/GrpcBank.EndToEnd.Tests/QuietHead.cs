using GrpcBank.Application.Accounts;
using GrpcBank.Application.EventStore;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Testing;

namespace GrpcBank.EndToEnd.Tests;

public static class QuietHead
{
    /// <summary>
    /// The head once nothing more is written: the bank's own hold expiry runs in the background and expires the holds
    /// the last clock move made due (once the read side lists them), so the bank is quiet only when none is left due.
    /// </summary>
    public static async Task<long> OfAsync(BankHost host)
    {
        var store = host.Get<IEventStore>();
        while (true)
        {
            var head = await store.HeadPositionAsync(CancellationToken.None);
            await host.Query.SearchAccountsAsync(new SearchAccountsRequest { PageSize = 1, MinPosition = head });
            if (await host.Get<HoldExpiry>().ExpireDueAsync(CancellationToken.None) == 0 && await store.HeadPositionAsync(CancellationToken.None) == head)
                return head;
        }
    }
}
