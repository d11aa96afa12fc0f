using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using GrpcBank.Application.Commands;

namespace GrpcBank.Application.Tests;

/// <summary>
/// The application shell talks to databases, gRPC and the web only through its ports: neither its assembly nor its
/// restored package graph may contain a database driver, gRPC or ASP.NET Core.
/// </summary>
public sealed class ApplicationPurityTests
{
    private static readonly string ApplicationAssembly = typeof(Handlers).Assembly.Location;

    // Package and assembly name prefixes of databases, search engines, brokers, gRPC/protobuf and ASP.NET Core.
    private static readonly string[] Forbidden =
    [
        "Npgsql", "Microsoft.Data.", "SQLitePCLRaw", "System.Data.", "Microsoft.EntityFrameworkCore", "Dapper", "Elastic.",
        "RabbitMQ", "Grpc.", "Google.Protobuf", "Microsoft.AspNetCore",
    ];

    [Fact]
    public void TheApplicationAssemblyReferencesNoDatabaseGrpcOrAspNetAssembly()
    {
        using var pe = new PEReader(File.OpenRead(ApplicationAssembly));
        var reader = pe.GetMetadataReader();
        var names = reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToList();

        Assert.Contains("GrpcBank.Domain", names);
        Assert.DoesNotContain(names, IsForbidden);
    }

    [Fact]
    public void TheApplicationUsesNoAdoNetOrWebTypes()
    {
        using var pe = new PEReader(File.OpenRead(ApplicationAssembly));
        var reader = pe.GetMetadataReader();
        var namespaces = reader.TypeReferences.Select(h => reader.GetString(reader.GetTypeReference(h).Namespace)).Distinct().ToList();

        Assert.Contains("GrpcBank.Domain.Accounts", namespaces);
        Assert.DoesNotContain(namespaces, ns => ns == "System.Data" || IsForbidden(ns + "."));
    }

    [Fact]
    public void TheApplicationsRestoredPackagesHaveNoDatabaseGrpcOrAspNetPackage()
    {
        var assets = Path.Combine(RepositoryRoot(), "src", "GrpcBank.Application", "obj", "project.assets.json");
        using var json = JsonDocument.Parse(File.ReadAllText(assets));
        var packages = json.RootElement.GetProperty("libraries").EnumerateObject()
            .Where(library => library.Value.GetProperty("type").GetString() == "package")
            .Select(library => library.Name.Split('/')[0])
            .ToList();

        Assert.Contains("LanguageExt.Core", packages);
        Assert.DoesNotContain(packages, IsForbidden);
    }

    [Theory]
    [InlineData("Npgsql", true)]
    [InlineData("Microsoft.Data.Sqlite", true)]
    [InlineData("Grpc.Core.Api", true)]
    [InlineData("Google.Protobuf", true)]
    [InlineData("Microsoft.AspNetCore.Http.Abstractions", true)]
    [InlineData("Elastic.Clients.Elasticsearch", true)]
    [InlineData("Microsoft.Extensions.Logging.Abstractions", false)]
    [InlineData("LanguageExt.Core", false)]
    [InlineData("GrpcBank.Domain", false)]
    public void TheCheckTellsForbiddenNamesFromAllowedOnes(string name, bool forbidden) =>
        Assert.Equal(forbidden, IsForbidden(name));

    private static bool IsForbidden(string name) =>
        Forbidden.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal) || name == prefix.TrimEnd('.'));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpcBank.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no GrpcBank.sln above {AppContext.BaseDirectory}");
    }
}
