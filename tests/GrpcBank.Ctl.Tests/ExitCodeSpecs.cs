using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcBank.Ctl.Tests;

/// <summary>Exit codes and messages a person can act on: 1 refused, 2 usage, 3 unreachable; --help everywhere.</summary>
public sealed class ExitCodeSpecs(SeededBank bank) : IClassFixture<SeededBank>
{
    [Fact]
    public async Task AnUnreachableServer_IsExit3_NamingTheAddressAndHowToStartOne()
    {
        var run = await Ctl.RunAsync("http://127.0.0.1:1", "streams", "read", "account-ada");

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("cannot reach a GrpcBank server at http://127.0.0.1:1/", run.Stderr);
        Assert.Contains("dotnet run --project src/GrpcBank.Server -- --urls http://127.0.0.1:1", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Fact]
    public async Task ABadAccountId_IsExit1_NamingTheField()
    {
        var run = await Ctl.RunAsync(bank.Host, "accounts", "as-of", "not an id!", "--version", "1");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("INVALID_ARGUMENT", run.Stderr);
        Assert.Contains("field account_id: must be 1 to 64 characters", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Fact]
    public async Task AnUnknownAccount_IsExit1_WithTheErrorInfoReason()
    {
        var run = await Ctl.RunAsync(bank.Host, "accounts", "as-of", "nobody", "--version", "1");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("NOT_FOUND", run.Stderr);
        Assert.Contains("reason: ACCOUNT_NOT_FOUND (grpcbank)", run.Stderr);
    }

    [Theory]
    [InlineData("accounts", "as-of", "ada")]
    [InlineData("accounts", "as-of", "ada", "--version", "1", "--time", "2025-01-01T00:00:00Z")]
    [InlineData("accounts", "as-of", "ada", "--time", "yesterday")]
    [InlineData("streams", "read")]
    [InlineData("subscribe", "--max", "0")]
    [InlineData("no-such-command")]
    public async Task AWrongCommandLine_IsExit2_PointingAtHelp(params string[] args)
    {
        var run = await Ctl.RunAsync(bank.Host, args);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--help' for usage and an example", run.Stderr);
    }

    [Theory]
    [InlineData("--timeout", "--timeout", "abc", "projections", "status")]
    [InlineData("--timeout", "--timeout", "1e400", "projections", "status")]
    [InlineData("--timeout", "--timeout", "NaN", "projections", "status")]
    [InlineData("--timeout", "--timeout", "Infinity", "projections", "status")]
    [InlineData("--timeout", "--timeout", "1e300", "projections", "status")]
    [InlineData("--timeout", "--timeout", "0", "projections", "status")]
    [InlineData("--interval", "top", "--interval", "abc")]
    [InlineData("--interval", "top", "--interval", "NaN")]
    [InlineData("--interval", "top", "--interval", "1e400")]
    [InlineData("--samples", "top", "--samples", "abc")]
    [InlineData("--samples", "top", "--samples", "-1")]
    public async Task ABadOptionValue_IsExit2_NamingTheOption_WithoutAStackTrace(string option, params string[] args)
    {
        var run = await Ctl.RunAsync(bank.Host, args);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("bankctl: ", run.Stderr);
        Assert.Contains(option, run.Stderr.Split('\n')[0]);
        Assert.Contains("--help' for usage and an example", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Fact]
    public async Task Top_WithAMetricsAddressThatNeverAnswers_IsExit3_NamingIt()
    {
        // Takes the connection and says nothing, as a wrong port behind a firewall that drops packets looks: HttpClient's
        // timeout ended the scrape with a TaskCanceledException, which crashed bankctl with its stack trace.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}/metrics";

        var run = await Ctl.RunAsync(bank.Host, "top", "--metrics", url, "--samples", "1");

        Assert.Equal(3, run.ExitCode);
        Assert.Contains($"bankctl: {url} did not answer within 10 s", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Theory]
    [InlineData("clé-secrète-0123456789")]
    [InlineData("first-line\nsecond-line")]
    public async Task AnApiKeyAnHttpHeaderCannotCarry_IsExit2_NotAnUnreachableServer(string key)
    {
        // The HTTP client refused the header (or the server the stream) before any call, which read as "cannot reach a
        // GrpcBank server at …, start one with …" (exit 3) for a server that was running.
        var run = await Ctl.RunAsync(bank.Host, "--api-key", key, "projections", "status");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--api-key (or GRPCBANK_API_KEY) holds a character an HTTP header cannot carry", run.Stderr);
        Assert.DoesNotContain("secrète", run.Stderr);
    }

    [Theory]
    [InlineData]
    [InlineData("streams", "read")]
    [InlineData("accounts", "as-of")]
    [InlineData("subscribe")]
    [InlineData("projections", "status")]
    [InlineData("projections", "rebuild")]
    [InlineData("deadletters", "list")]
    [InlineData("deadletters", "retry")]
    [InlineData("seed")]
    public async Task Help_IsExit0_WithAnExample(params string[] command)
    {
        var run = await Ctl.RunAsync(CancellationToken.None, [.. command, "--help"]);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Example", run.Stdout);
        Assert.Contains($"bankctl {string.Join(' ', command)}", run.Stdout);
        Assert.Contains("--server", run.Stdout);
    }

    [Theory]
    [InlineData("projections", "status")]
    [InlineData("projections", "rebuild")]
    [InlineData("deadletters", "list")]
    [InlineData("deadletters", "retry")]
    public async Task AServerWithoutTheProjectionService_IsExit1_SayingItIsTooOld(params string[] command)
    {
        // A gRPC server that implements nothing: what bankctl sees from a GrpcBank older than the admin service.
        var builder = WebApplication.CreateBuilder(["--urls=http://127.0.0.1:0", "--Kestrel:EndpointDefaults:Protocols=Http2"]);
        builder.Services.AddGrpc();
        await using var app = builder.Build();
        await app.StartAsync();

        var run = await Ctl.RunAsync(app.Urls.Single(), command);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("UNIMPLEMENTED", run.Stderr);
        Assert.Contains("need bank.admin.v1.ProjectionService", run.Stderr);
        Assert.Contains("older GrpcBank than this bankctl", run.Stderr);
    }
}
