using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using GrpcBank.Domain.Accounts;

namespace GrpcBank.Domain.Tests;

/// <summary>The functional core does no I/O and reads no clock, randomness or environment: checked in its IL.</summary>
public sealed class DomainPurityTests
{
    private static readonly string DomainAssembly = typeof(Account).Assembly.Location;

    // Namespaces whose every type is I/O.
    private static readonly string[] ForbiddenNamespaces = ["System.IO", "System.Net"];

    private static readonly HashSet<string> ForbiddenTypes =
    [
        "System.Random", "System.Environment", "System.TimeProvider",
        "System.Threading.Tasks.Task", "System.Threading.Tasks.Task`1",
    ];

    private static readonly HashSet<string> ForbiddenMembers =
    [
        "System.DateTime.get_Now", "System.DateTime.get_UtcNow",
        "System.DateTimeOffset.get_Now", "System.DateTimeOffset.get_UtcNow",
        "System.Guid.NewGuid",
    ];

    [Fact]
    public void DomainReferencesOnlyLanguageExtAndTheBcl()
    {
        using var pe = new PEReader(File.OpenRead(DomainAssembly));
        var reader = pe.GetMetadataReader();
        var names = reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name));

        Assert.All(names, name => Assert.True(
            name is "LanguageExt.Core" or "netstandard" or "mscorlib" || name.StartsWith("System.", StringComparison.Ordinal) || name == "System",
            $"GrpcBank.Domain references assembly {name}"));
    }

    [Fact]
    public void DomainUsesNoIoClockRandomnessOrEnvironment() =>
        Assert.Empty(ImpureReferences(DomainAssembly));

    [Fact]
    public void TheCheckFindsImpureCallsWhereTheyAre()
    {
        // This test assembly calls Guid.NewGuid and uses Random on purpose, so the scanner must see them.
        var found = ImpureReferences(typeof(DomainPurityTests).Assembly.Location);

        Assert.Contains("System.Guid.NewGuid", found);
        Assert.Contains("System.Random", found);
    }

    internal static Guid ImpureOnPurpose() => Guid.NewGuid();

    private static List<string> ImpureReferences(string assemblyPath)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var reader = pe.GetMetadataReader();

        var types = reader.TypeReferences
            .Select(h => FullName(reader, h))
            .Where(name => ForbiddenTypes.Contains(name) || ForbiddenNamespaces.Any(ns => name == ns || name.StartsWith(ns + ".", StringComparison.Ordinal)));

        var members = reader.MemberReferences
            .Select(h => reader.GetMemberReference(h))
            .Where(m => m.Parent.Kind == HandleKind.TypeReference)
            .Select(m => $"{FullName(reader, (TypeReferenceHandle)m.Parent)}.{reader.GetString(m.Name)}")
            .Where(ForbiddenMembers.Contains);

        return types.Concat(members).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    private static string FullName(MetadataReader reader, TypeReferenceHandle handle)
    {
        var type = reader.GetTypeReference(handle);
        var name = reader.GetString(type.Name);
        return type.ResolutionScope.Kind == HandleKind.TypeReference
            ? $"{FullName(reader, (TypeReferenceHandle)type.ResolutionScope)}+{name}"
            : type.Namespace.IsNil ? name : $"{reader.GetString(type.Namespace)}.{name}";
    }
}
