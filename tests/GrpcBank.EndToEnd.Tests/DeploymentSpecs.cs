using System.Diagnostics;
using GrpcBank.Contracts.Accounts.V1;
using GrpcBank.Contracts.Query.V1;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>
/// The server started as operators start it (its build output as a child process, from any folder, configured by the
/// environment), and the files a deployment depends on: the compose file is valid and wires what the server reads.
/// </summary>
public sealed class DeploymentSpecs
{
    internal static readonly string Root = FindRoot();

    /// <summary>Variables of the test run that would choose the listen address in the server's stead.</summary>
    private static readonly Dictionary<string, string?> NoInheritedAddresses = new()
    {
        ["ASPNETCORE_URLS"] = null, ["DOTNET_URLS"] = null, ["ASPNETCORE_HTTP_PORTS"] = null, ["DOTNET_HTTP_PORTS"] = null,
        ["ASPNETCORE_HTTPS_PORTS"] = null, ["DOTNET_HTTPS_PORTS"] = null,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // Storage:DataDirectory set to nothing, as an environment file's Storage__DataDirectory= does: GetFullPath("") aborted start-up
    public async Task StartedFromAnotherWorkingDirectory_TheServerSpeaksGrpc_AndKeepsItsDataUnderThatDirectory(bool emptyDataDirectory)
    {
        var elsewhere = Directory.CreateTempSubdirectory("grpcbank-cwd-").FullName;
        try
        {
            var launch = new ServerLaunch(emptyDataDirectory ? [("Storage:DataDirectory", "")] : []) { WorkingDirectory = elsewhere, Environment = NoInheritedAddresses };
            await using (var server = await ServerProcess.StartAsync(launch))
            {
                var opened = await new AccountService.AccountServiceClient(server.Channel)
                    .OpenAccountAsync(new OpenAccountRequest { OwnerName = "Grace Hopper", CurrencyCode = "USD" });
                var account = await new QueryService.QueryServiceClient(server.Channel)
                    .GetAccountAsync(new GetAccountRequest { AccountId = opened.AccountId, MinPosition = opened.Position });

                Assert.Equal("Grace Hopper", account.Account.OwnerName);
                Assert.True(await server.PrintedAsync($"Embedded stores in {Path.Combine(elsewhere, "data")}"), server.Log);
            }
            Assert.True(File.Exists(Path.Combine(elsewhere, "data", "events.db")), "the default data directory is 'data' under the working directory");
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [Theory]
    [InlineData("environment")]
    [InlineData("command line")]
    public async Task WithoutKeys_APortThatListensOnEveryInterface_IsRefusedBeforeServing(string via)
    {
        // The port is bound on every interface only for the moment it takes the server to see that and exit.
        var port = FreePorts.Next().ToString();
        var data = Directory.CreateTempSubdirectory("grpcbank-exposed-").FullName;
        var launch = via == "environment"
            ? new ServerLaunch(("Storage:DataDirectory", data))
            {
                Urls = null, Environment = new Dictionary<string, string?>(NoInheritedAddresses) { ["ASPNETCORE_HTTP_PORTS"] = port },
            }
            : new ServerLaunch(("Storage:DataDirectory", data), ("http_ports", port)) { Urls = null, Environment = NoInheritedAddresses };

        var result = await ServerProcess.RunToExitAsync(launch, TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains($":{port} without API keys", result.Output);
        Assert.Contains("Auth__ApiKeys__0__Key", result.Output);
        Assert.DoesNotContain("Application started", result.Output);
        Directory.Delete(data, recursive: true);
    }

    [Fact]
    public async Task WithKeys_ACleartextAddressBeyondLoopback_IsServed_WithAWarningThatKeysSentThereTravelReadable()
    {
        // TLS may end in front of the server (a proxy, a mesh), so the address is served; the operator hears the risk.
        var port = FreePorts.Next();
        var data = Directory.CreateTempSubdirectory("grpcbank-cleartext-").FullName;
        await using var server = await ServerProcess.StartAsync(new ServerLaunch(("Storage:DataDirectory", data),
            ("Auth:ApiKeys:0:Key", "cleartext-test-key-0123456789"), ("Auth:ApiKeys:0:Roles", "teller"))
        {
            Urls = $"http://127.0.0.1:0;http://0.0.0.0:{port}", Environment = NoInheritedAddresses,
        });

        // The console logger writes from a queue of its own: the line may follow the server's first answer.
        for (var waited = 0; waited < 100 && !server.Log.Contains("warn: GrpcBank.Server.Security.ProtectedMode", StringComparison.Ordinal); waited++)
            await Task.Delay(100, TestContext.Current.CancellationToken);
        var warning = server.Log.Split('\n').SkipWhile(line => !line.StartsWith("warn: GrpcBank.Server.Security.ProtectedMode", StringComparison.Ordinal))
            .Skip(1).FirstOrDefault() ?? "";
        Assert.Contains($"Serving cleartext HTTP beyond loopback on http://0.0.0.0:{port}: API keys sent there travel readable", warning);
        Assert.DoesNotContain("127.0.0.1", warning);
        Directory.Delete(data, recursive: true);
    }

    [Fact]
    public async Task TheComposeFile_IsValid()
    {
        var compose = new[] { "/usr/bin/docker-compose", "/usr/local/bin/docker-compose" }.FirstOrDefault(File.Exists);
        Assert.SkipWhen(compose is null, "docker-compose is not installed (.ci/run installs it with apt): cannot validate docker-compose.yml");

        using var process = Process.Start(new ProcessStartInfo(compose!, "-f docker-compose.yml config -q")
        {
            WorkingDirectory = Root, RedirectStandardError = true, RedirectStandardOutput = true,
        })!;
        var errors = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.True(process.ExitCode == 0, errors);
    }

    [Fact]
    public void TheComposeFile_WiresTheSettingsTheServerReads()
    {
        var compose = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));

        Assert.Contains("ConnectionStrings__Postgres:", compose);
        Assert.Contains("Elasticsearch__Url: http://elasticsearch:9200", compose);
        Assert.Contains("Bus__RabbitMq__Url: amqp://grpcbank:grpcbank@rabbitmq:5672/", compose);
        Assert.Contains("Auth__ApiKeys__0__Key:", compose);
        Assert.Contains("condition: service_healthy", compose);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpcBank.sln"))) return dir.FullName;
        throw new InvalidOperationException("GrpcBank.sln not found above " + AppContext.BaseDirectory);
    }
}
