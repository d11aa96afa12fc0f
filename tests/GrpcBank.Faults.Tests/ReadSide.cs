using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using GrpcBank.Contracts.Admin.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.Faults.Tests;

/// <summary>Compares the read side with a replay of the event store.</summary>
public static class ReadSide
{
    /// <summary>The newest committed position, as the server reports it.</summary>
    public static async Task<long> HeadAsync(GrpcChannel channel) =>
        (await new ProjectionService.ProjectionServiceClient(channel).GetProjectionStatusAsync(new GetProjectionStatusRequest()))
        .Projections.Max(p => p.HeadPosition);

    /// <summary>
    /// For every account: GetAccount, once the read side has reached the head, equals GetAccountAsOf (folded from the
    /// account's events on the write side) as of now.
    /// </summary>
    public static async Task AssertEqualsReplayAsync(GrpcChannel channel, IEnumerable<string> accounts)
    {
        var head = await HeadAsync(channel);
        var query = new QueryService.QueryServiceClient(channel);
        var history = new HistoryService.HistoryServiceClient(channel);
        var now = Timestamp.FromDateTime(DateTime.UtcNow.AddMinutes(1));
        foreach (var id in accounts)
        {
            var read = (await query.GetAccountAsync(new GetAccountRequest { AccountId = id, MinPosition = head }, deadline: DateTime.UtcNow.AddSeconds(30))).Account;
            var replayed = await history.GetAccountAsOfAsync(new GetAccountAsOfRequest { AccountId = id, AsOfTime = now });
            Assert.Equal(
                (replayed.AccountId, replayed.OwnerName, replayed.CurrencyCode, replayed.BalanceMinor, replayed.Version, (int)replayed.Status),
                (read.AccountId, read.OwnerName, read.CurrencyCode, read.BalanceMinor, read.Version, (int)read.Status));
        }
    }
}
