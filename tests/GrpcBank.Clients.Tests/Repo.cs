namespace GrpcBank.Clients.Tests;

/// <summary>The repository these tests were built from: the first folder above the test's base directory holding GrpcBank.sln.</summary>
public static class Repo
{
    private static readonly Lazy<string> root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpcBank.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No GrpcBank.sln in {AppContext.BaseDirectory} or any folder above it");
    });

    public static string Root => root.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);
}
