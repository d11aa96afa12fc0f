using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.History.V1;
using GrpcBank.Contracts.Query.V1;
using GrpcBank.Server.Hosting;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>API keys, roles, the caller recorded in event metadata, rate limits, the throttle on guessing keys and protected mode.</summary>
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
    public async Task SettingAnOverdraftLimitOrLiftingARestriction_NeedsTheAdminRole_WhileATellerRestricts()
    {
        const string adminKey = "admin-secret-0123456789";
        await using var host = await StartWithKeysAsync(("Auth:ApiKeys:2:Name", "boss"), ("Auth:ApiKeys:2:Key", adminKey), ("Auth:ApiKeys:2:Roles", "teller,admin"));
        var opened = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" }, Bearer(TellerKey));
        var limit = new SetOverdraftLimitRequest { AccountId = opened.AccountId, LimitMinor = 500 };
        var lift = new LiftRestrictionRequest { AccountId = opened.AccountId };

        await host.Accounts.RestrictAccountAsync(new RestrictAccountRequest { AccountId = opened.AccountId, BlockDebits = true, Reason = "fraud case" }, Bearer(TellerKey));
        await Rpc.Fails(StatusCode.PermissionDenied, () => host.Accounts.SetOverdraftLimitAsync(limit, Bearer(TellerKey)).ResponseAsync);
        await Rpc.Fails(StatusCode.PermissionDenied, () => host.Accounts.LiftRestrictionAsync(lift, Bearer(TellerKey)).ResponseAsync);
        // Nor can a second restriction that leaves debits out lift their block by the back door.
        var loosen = new RestrictAccountRequest { AccountId = opened.AccountId, BlockCredits = true, Reason = "other case" };
        var refused = await Rpc.Rejected("RESTRICTION_WOULD_LOOSEN", () => host.Accounts.RestrictAccountAsync(loosen, Bearer(TellerKey)).ResponseAsync);
        Assert.Equal((opened.AccountId, "true", "false"), (refused.Metadata["account_id"], refused.Metadata["debits_blocked"], refused.Metadata["credits_blocked"]));
        var set = await host.Accounts.SetOverdraftLimitAsync(limit, Bearer(adminKey));
        var lifted = await host.Accounts.LiftRestrictionAsync(lift, Bearer(adminKey));

        Assert.Equal((3, 4), (set.Version, lifted.Version));
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

        var (codes, refilled) = await UntilExhaustedAsync(5, () => host.Query.GetAccountAsync(request, Bearer(AuditorKey)).ResponseAsync);
        var tellerStillServed = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "B", CurrencyCode = "EUR" }, Bearer(TellerKey));

        Assert.InRange(codes.Count(c => c == StatusCode.NotFound), 5, 5 + refilled);
        Assert.Equal(1, tellerStillServed.Version);
    }

    [Fact]
    public async Task CallsRefusedForTheirRole_CountAgainstTheKeysRate_AndBeyondItAreResourceExhausted()
    {
        // Refused or not, a call takes its place in its caller's rate: otherwise a key could send refused calls unlimited.
        await using var host = await StartWithKeysAsync(("Auth:RequestsPerSecond", "5"));
        var request = new GetAccountRequest { AccountId = "nobody" };

        var (codes, refilled) = await UntilExhaustedAsync(5, () => host.Query.GetAccountAsync(request, Bearer(TellerKey)).ResponseAsync);

        Assert.InRange(codes.Count(c => c == StatusCode.PermissionDenied), 5, 5 + refilled);
    }

    [Fact]
    public async Task ARefusalForTheRate_OrForTooManyGuesses_SaysWhyAndWhenToComeBack()
    {
        // A client (or a proxy) backs off as told: google.rpc.RetryInfo for gRPC clients, Retry-After for HTTP ones.
        await using var host = await StartWithKeysAsync(("Auth:RequestsPerSecond", "2"), ("Auth:FailedAuthenticationsPerSecond", "1"));
        var request = new GetAccountRequest { AccountId = "nobody" };
        var overRate = await FirstExhaustedAsync(StatusCode.NotFound, () => host.Query.GetAccountAsync(request, Bearer(AuditorKey)).ResponseAsync);
        var guesses = 0;
        var throttled = await FirstExhaustedAsync(StatusCode.Unauthenticated, () => host.Query.GetAccountAsync(request, Bearer($"guess-{guesses++}")).ResponseAsync);

        foreach (var (refusal, reason, longest) in new[] { (overRate, "RATE_LIMITED", 1.0), (throttled, "TOO_MANY_FAILED_AUTHENTICATIONS", 1.0) })
        {
            var status = refusal.GetRpcStatus()!;
            var delay = status.GetDetail<Google.Rpc.RetryInfo>()!.RetryDelay.ToTimeSpan().TotalSeconds;
            Assert.Equal((StatusCode.ResourceExhausted, reason, "1"),
                (refusal.StatusCode, status.GetDetail<Google.Rpc.ErrorInfo>()!.Reason, refusal.Trailers.GetValue("retry-after")));
            Assert.InRange(delay, 0.001, longest);
        }
    }

    /// <summary>
    /// The first RESOURCE_EXHAUSTED of up to 20 calls made one after another, each before it answering <paramref name="before"/>
    /// (any other failure, an INTERNAL say, fails the spec rather than counting as a call on the way).
    /// </summary>
    private static async Task<RpcException> FirstExhaustedAsync(StatusCode before, Func<Task> call)
    {
        for (var calls = 0; calls < 20; calls++)
        {
            try
            {
                await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                return e;
            }
            catch (RpcException e) when (e.StatusCode == before)
            {
            }
        }
        throw new Xunit.Sdk.XunitException("20 calls in a row, none of them RESOURCE_EXHAUSTED");
    }

    /// <summary>
    /// Calls one after another until one is RESOURCE_EXHAUSTED (the last status; at most 100 calls): the status of each,
    /// and how many calls a bucket of <paramref name="perSecond"/> can have taken in while they ran. A bucket fills again
    /// as time passes (a call's worth each 1/<paramref name="perSecond"/> s), so how many of a fixed number of calls get
    /// through depends on how fast they go: 5 of 8 at 5 a second, expected exactly, took the 8 within 200 ms, which a
    /// loaded machine need not give (8 calls over HTTP took over 600 ms there, and let 6 through).
    /// </summary>
    private static async Task<(List<StatusCode> Codes, int Refilled)> UntilExhaustedAsync(int perSecond, Func<Task> call)
    {
        var codes = new List<StatusCode>();
        var took = System.Diagnostics.Stopwatch.StartNew();
        while (codes.LastOrDefault() != StatusCode.ResourceExhausted && codes.Count < 100) codes.Add(await CodeOf(call));
        TestContext.Current.TestOutputHelper?.WriteLine($"{codes.Count} calls in {took.ElapsedMilliseconds} ms: {string.Join(", ", codes)}");
        Assert.Equal(StatusCode.ResourceExhausted, codes[^1]);
        return (codes, Refilled(perSecond, took.Elapsed));
    }

    /// <summary>
    /// The most calls a bucket of <paramref name="perSecond"/> can have taken in over <paramref name="elapsed"/>: the
    /// partitioned limiter adds what the time since its last 100 ms tick is worth, and the tick before the first call
    /// may have found the bucket full, so up to one tick more than the calls' own time counts.
    /// </summary>
    internal static int Refilled(int perSecond, TimeSpan elapsed) => (int)Math.Ceiling(perSecond * (elapsed + TimeSpan.FromMilliseconds(100)).TotalSeconds);

    [Theory]
    [InlineData("::ffff:10.1.2.3", "10.1.2.3")]
    [InlineData("10.1.2.3", "10.1.2.3")]
    [InlineData("2001:db8::7", "2001:db8::/64")]
    [InlineData("2001:db8::1:2:3:4", "2001:db8::/64")]
    [InlineData("2001:db8:0:5:1:2:3:4", "2001:db8:0:5::/64")]
    [InlineData("fe80::1%2", "fe80::/64")]
    [InlineData("::1", "::1")]
    public void AnIPv4ClientOnADualStackSocket_IsTheSamePeer_AsOverIPv4_AndAnIPv6OneIsItsSlash64(string address, string peer) =>
        Assert.Equal(peer, GrpcBank.Server.Security.Authenticator.Peer(
            new Microsoft.AspNetCore.Http.DefaultHttpContext { Connection = { RemoteIpAddress = System.Net.IPAddress.Parse(address) } }));

    [Fact]
    public async Task WithoutKeys_TheServerRefusesToServeBeyondLoopback_AndSaysHowToConfigureKeys()
    {
        // Port 0: the refusal is checked on the address Kestrel really bound, and no fixed port can clash.
        await using var app = BankServer.Build(["--urls=http://0.0.0.0:0", $"--Storage:DataDirectory={Path.GetTempPath()}/grpcbank-tests/refused"]);

        var e = await Assert.ThrowsAsync<StartupRefusedException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("http://0.0.0.0:", e.Message);
        Assert.Contains("Auth__ApiKeys__0__Key", e.Message);
    }

    [Fact]
    public async Task RolesInDotNetsArrayForm_AreAccepted_LikeTheCommaList()
    {
        await using var host = await BankHost.StartEmbeddedAsync(
            ("Auth:ApiKeys:0:Name", "both"), ("Auth:ApiKeys:0:Key", TellerKey),
            ("Auth:ApiKeys:0:Roles:0", "teller"), ("Auth:ApiKeys:0:Roles:1", "auditor"));

        var opened = await host.Accounts.OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" }, Bearer(TellerKey));
        var got = await host.Query.GetAccountAsync(new GetAccountRequest { AccountId = opened.AccountId, MinPosition = opened.Position }, Bearer(TellerKey));
        await Rpc.Fails(StatusCode.PermissionDenied, () =>
            new Contracts.Admin.V1.ProjectionService.ProjectionServiceClient(host.Channel)
                .GetProjectionStatusAsync(new Contracts.Admin.V1.GetProjectionStatusRequest(), Bearer(TellerKey)).ResponseAsync);

        Assert.Equal("Ada", got.Account.OwnerName);
    }

    [Fact]
    public async Task ABurstOfThreeThousandWrongKeys_IsRefusedAfterAFew_AndTheRightKeyWorksAgainWithinSeconds()
    {
        await using var host = await StartWithKeysAsync(("Auth:FailedAuthenticationsPerSecond", "5"));
        var request = new GetAccountRequest { AccountId = "nobody" };
        var codes = new System.Collections.Concurrent.ConcurrentBag<StatusCode>();

        await Parallel.ForAsync(0, 3_000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            try
            {
                await host.Query.GetAccountAsync(request, Bearer($"guess-{i:D6}-0123456789"), cancellationToken: ct);
                codes.Add(StatusCode.OK);
            }
            catch (RpcException e)
            {
                codes.Add(e.StatusCode);
            }
        });
        // Right after the burst this address usually has to wait too, whatever key it sends; within seconds it may try again.
        var again = DateTime.UtcNow.AddSeconds(10);
        var rightKey = await CodeOf(() => host.Query.GetAccountAsync(request, Bearer(AuditorKey)).ResponseAsync);
        while (rightKey == StatusCode.ResourceExhausted && DateTime.UtcNow < again)
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);
            rightKey = await CodeOf(() => host.Query.GetAccountAsync(request, Bearer(AuditorKey)).ResponseAsync);
        }

        Assert.DoesNotContain(StatusCode.OK, codes);
        Assert.True(codes.Count(c => c == StatusCode.ResourceExhausted) >= 2_900,
            $"only {codes.Count(c => c == StatusCode.ResourceExhausted)} of 3000 guesses were refused; {codes.Count(c => c == StatusCode.Unauthenticated)} were checked");
        Assert.Equal(StatusCode.NotFound, rightKey); // then the key is checked again: it is valid, the account does not exist
    }

    [Fact]
    public async Task FloodingHealthChecks_DoesNotStarveAnotherClientsProbe_OrTakeTheKeysRate()
    {
        await using var host = await StartWithKeysAsync(("Auth:RequestsPerSecond", "5"));
        var flooder = new Health.HealthClient(host.Channel);

        var flood = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ => (await flooder.CheckAsync(new HealthCheckRequest())).Status));
        using var otherClient = GrpcChannel.ForAddress(host.GrpcUrl);
        var probe = await new Health.HealthClient(otherClient).CheckAsync(new HealthCheckRequest());
        var opened = await new AccountService.AccountServiceClient(otherClient)
            .OpenAccountAsync(new OpenAccountRequest { OwnerName = "Ada", CurrencyCode = "EUR" }, Bearer(TellerKey));

        Assert.All(flood, status => Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, status));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, probe.Status);
        Assert.Equal(1, opened.Version);
    }

    [Fact]
    public async Task ReflectionCallsWithoutAKey_CountAgainstTheirPeersRate_LikeEveryOtherCallWithoutOne()
    {
        // Reflection is a bidirectional stream: it is held to the rate of the caller's address as the README says
        // (Auth:RequestsPerSecond: "calls without a key, e.g. reflection, count per peer address").
        await using var host = await StartWithKeysAsync(("Auth:RequestsPerSecond", "5"));
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(host.Channel);
        var ct = TestContext.Current.CancellationToken;

        // Calls until the first is refused (UntilExhaustedAsync: a fixed 20 in a row let 5 to 10 through only while they
        // took about a second at most).
        var (codes, refilled) = await UntilExhaustedAsync(5, async () =>
        {
            using var call = reflection.ServerReflectionInfo(cancellationToken: ct);
            await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" }, ct);
            await call.RequestStream.CompleteAsync();
            while (await call.ResponseStream.MoveNext(ct)) { }
        });

        Assert.InRange(codes.Count(c => c == StatusCode.OK), 5, 5 + refilled);
    }

    [Fact]
    public async Task AJsonCallWithoutAKey_IsRefusedBeforeItsBodyIsRead()
    {
        // The throttle on failed authentications refuses guesses "before their key is even looked at": no caller without
        // a valid key may make the server read and parse up to 16 MiB of JSON first. The request announces a large body,
        // sends a few bytes of it and waits (a raw socket: HttpClient reads no answer before its body is sent).
        var jsonUrl = new Uri($"http://127.0.0.1:{FreePorts.Next()}");
        await using var host = await StartWithKeysAsync(("JsonApi:Url", jsonUrl.ToString()));
        var ct = TestContext.Current.CancellationToken;
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(jsonUrl.Host, jsonUrl.Port, ct);
        var stream = socket.GetStream();

        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            $"POST /v1/batches:execute HTTP/1.1\r\nHost: {jsonUrl.Authority}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{{\"commands\":["), ct);
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // 30 s, not 3: a fresh server's first JSON request can take seconds on a loaded machine. The patience does not
        // decide the outcome: a server that waited for the body would never answer 401, the body never being sent.
        patience.CancelAfter(TimeSpan.FromSeconds(30));
        var answer = new byte[64];
        int read;
        try
        {
            read = await stream.ReadAsync(answer, patience.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            read = 0; // no answer while the body waits
        }

        Assert.StartsWith("HTTP/1.1 401", System.Text.Encoding.ASCII.GetString(answer, 0, read));
    }

    private static async Task<StatusCode> CodeOf(Func<Task> call)
    {
        try
        {
            await call();
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    [Fact]
    public async Task AKeyThatIsTooShort_StopsTheServerAtStartUp()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => BankHost.StartEmbeddedAsync(("Auth:ApiKeys:0:Key", "short"), ("Auth:ApiKeys:0:Roles", "teller")));

        Assert.Contains("too short", e.ToString());
    }
}
