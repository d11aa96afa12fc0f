using System.Text.Json;
using Grpc.Core;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Hosting;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>API keys, roles, the caller recorded in event metadata, rate limits and protected mode.</summary>
public sealed class SecuritySpecs
{
    private const string TellerKey = "teller-secret-0123456789";
    private const string AuditorKey = "auditor-secret-0123456789";

    private static Task<BankHost> StartWithKeysAsync(params (string Key, string Value)[] extra) =>
        BankHost.StartEmbeddedAsync([
            ("Auth:ApiKeys:0:Name", "alice"), ("Auth:ApiKeys:0:Key", TellerKey), ("Auth:ApiKeys:0:Roles", "teller"),
            ("Auth:ApiKeys:1:Name", "audit"), ("Auth:ApiKeys:1:Key", AuditorKey), ("Auth:ApiKeys:1:Roles", "auditor"),
            .. extra]);

    private static Metadata Bearer(string key) => new() { { "authorization", $"Bearer {key}" } };

    [Fact]
    public async Task WithKeysConfigured_AMissingOrWrongKeyIsUnauthenticated_AndAWrongRoleIsPermissionDenied()
    {
        await using var host = await StartWithKeysAsync();
        var open = new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" };

        await Rpc.Fails(StatusCode.Unauthenticated, () => host.Accounts.OpenAccountAsync(open).ResponseAsync);
        await Rpc.Fails(StatusCode.Unauthenticated, () => host.Accounts.OpenAccountAsync(open, Bearer("not-a-key")).ResponseAsync);
        await Rpc.Fails(StatusCode.PermissionDenied, () => host.Accounts.OpenAccountAsync(open, Bearer(AuditorKey)).ResponseAsync);
        var opened = await host.Accounts.OpenAccountAsync(open, Bearer(TellerKey));
        await Rpc.Fails(StatusCode.PermissionDenied, () =>
            host.Query.GetAccountAsync(new GetAccountRequest { AccountId = opened.AccountId }, Bearer(TellerKey)).ResponseAsync);
        var got = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = opened.AccountId, MinPosition = opened.Position }, Bearer(AuditorKey));

        Assert.Equal("Ada", got.Account.OwnerName);
    }

    [Fact]
    public async Task TheCallersName_IsRecordedInTheEventMetadata()
    {
        await using var host = await StartWithKeysAsync();

        var opened = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" }, Bearer(TellerKey));
        var stream = await new HistoryService.HistoryServiceClient(host.Channel).ReadStreamAsync(
            new ReadStreamRequest { StreamId = $"account-{opened.AccountId}" }, Bearer(AuditorKey));

        Assert.Equal("alice", JsonDocument.Parse(stream.Events[0].MetadataJson).RootElement.GetProperty("principal").GetString());
    }

    [Fact]
    public async Task OverTheRatePerKey_CallsAreResourceExhausted_AndOtherKeysAreNotAffected()
    {
        await using var host = await StartWithKeysAsync(("Auth:RequestsPerSecond", "5"));
        var request = new GetAccountRequest { AccountId = "nobody" };

        var codes = new List<StatusCode>();
        for (var i = 0; i < 8; i++)
        {
            try
            {
                await host.Query.GetAccountAsync(request, Bearer(AuditorKey));
            }
            catch (RpcException e)
            {
                codes.Add(e.StatusCode);
            }
        }
        var tellerStillServed = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "B", CurrencyCode = "EUR" }, Bearer(TellerKey));

        Assert.Equal(5, codes.Count(c => c == StatusCode.NotFound));
        Assert.Equal(3, codes.Count(c => c == StatusCode.ResourceExhausted));
        Assert.Equal(1, tellerStillServed.Version);
    }

    [Fact]
    public void WithoutKeys_TheServerRefusesToListenBeyondLoopback_AndSaysHowToConfigureKeys()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            BankServer.Build(["--urls=http://0.0.0.0:5999", $"--Storage:DataDirectory={Path.GetTempPath()}/grpcbank-tests/refused"]));

        Assert.Contains("http://0.0.0.0:5999", e.Message);
        Assert.Contains("Auth__ApiKeys__0__Key", e.Message);
    }

    [Fact]
    public async Task AKeyThatIsTooShort_StopsTheServerAtStartUp()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => BankHost.StartEmbeddedAsync(("Auth:ApiKeys:0:Key", "short"), ("Auth:ApiKeys:0:Roles", "teller")));

        Assert.Contains("too short", e.ToString());
    }
}
