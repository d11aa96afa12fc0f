using System.Diagnostics;

namespace GrpcBank.EndToEnd.Tests;

/// <summary>The files a deployment depends on: the compose file is valid and wires what the server reads.</summary>
public sealed class DeploymentSpecs
{
    private static readonly string Root = FindRoot();

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
