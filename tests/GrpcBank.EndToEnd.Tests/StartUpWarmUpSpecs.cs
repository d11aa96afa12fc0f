using GrpcBank.Contracts.Accounts.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// A restarted server warms its command path before it reports SERVING (so its first command is not its first call),
/// and the warm-up leaves nothing behind: no event, no request-log entry, no position drawn.
/// </summary>
public sealed class StartUpWarmUpSpecs
{
    [Fact]
    public async Task GivenAFreshServer_WhenItReportsServing_ThenItHasAnsweredItsOwnWarmUpCall_AndStoredNothing()
    {
        var data = Directory.CreateTempSubdirectory("grpcbank-warm-up-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(("Storage:DataDirectory", data));

            Assert.Contains("Command path warmed up", server.Log);
            Assert.Contains("gRPC edge warmed up", server.Log);
            var accounts = new AccountService.AccountServiceClient(server.Channel);
            var opened = await accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada Lovelace", CurrencyCode = "EUR" });
            // The first event the store holds: had a warm-up written one, this would be 2.
            Assert.Equal(1, opened.Position);
            Assert.Equal(1, opened.Version);
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }
}
