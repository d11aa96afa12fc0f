namespace GrpcBank.Clients.Tests;

/// <summary>The sample clients in tools/clients run their whole scenario against the real server, with its API key.</summary>
public sealed class SampleClientTests(ServerFixture server)
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(90);
    private const string SystemPython = "/usr/bin/python3";

    [Fact]
    public async Task Node_client_runs_the_scenario()
    {
        var node = ChildProcess.FindOnPath("node");
        if (node is null) Assert.Skip("node is not on PATH (.ci/run does not install Node.js; the machine should have it)");
        var dir = Repo.PathOf("tools", "clients", "node");
        var missing = new[] { "@grpc/grpc-js", "@grpc/proto-loader" }
            .Where(package => !File.Exists(Path.Combine(dir, "node_modules", package, "package.json"))).ToList();
        if (missing.Count > 0) Assert.Skip($"npm dependencies missing ({string.Join(", ", missing)}): run `npm ci --prefix tools/clients/node`");

        await AssertScenarioPasses(node, [Path.Combine(dir, "scenario.js"), server.Address]);
    }

    [Fact]
    public async Task Python_client_runs_the_scenario()
    {
        if (!File.Exists(SystemPython)) Assert.Skip($"{SystemPython} does not exist");
        var probe = await ChildProcess.RunAsync(SystemPython, ["-c", "import grpc, grpc_tools, google.protobuf"], TimeSpan.FromSeconds(30), Repo.Root);
        if (probe.ExitCode != 0)
            Assert.Skip($"grpcio/grpc_tools/protobuf are not importable by {SystemPython} (apt: python3-grpcio python3-grpc-tools python3-protobuf): {probe.Output.Trim()}");

        await AssertScenarioPasses(SystemPython, [Repo.PathOf("tools", "clients", "python", "scenario.py"), server.Address]);
    }

    private async Task AssertScenarioPasses(string file, string[] arguments)
    {
        var result = await ChildProcess.RunAsync(file, arguments, ClientTimeout, Repo.Root,
            environment: new Dictionary<string, string?> { ["GRPCBANK_API_KEY"] = server.ApiKey });
        TestContext.Current.SendDiagnosticMessage(result.Output);
        Assert.True(result.ExitCode == 0, $"{result}\nServer log:\n{server.Log}");
        Assert.Contains("scenario passed", result.Output);
    }
}
