using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using Xunit;

namespace GrpcBank.Testing;

/// <summary>
/// One PostgreSQL server per test run, as an xunit assembly fixture
/// (<c>[assembly: AssemblyFixture(typeof(PostgresServer))]</c>, then take it in a test class constructor).
/// Uses <c>GRPCBANK_TEST_POSTGRES</c> (a connection string) if set; else starts a throwaway cluster from the
/// local PostgreSQL binaries and removes it at the end; else tests that ask for a database are skipped.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string EnvironmentVariable = "GRPCBANK_TEST_POSTGRES";
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";

    private string? adminConnectionString;
    private string? skipReason;
    private string? startFailure;
    private string? clusterDirectory;
    private readonly ConcurrentDictionary<Type, Lazy<Task<string>>> classDatabases = new();
    private readonly ConcurrentBag<string> createdDatabases = [];

    /// <summary>Why there is no server to test against, or null.</summary>
    public string? SkipReason => skipReason;

    public async ValueTask InitializeAsync()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            adminConnectionString = configured;
            return;
        }
        if (!File.Exists(Path.Combine(BinDirectory, "initdb")))
        {
            skipReason = $"No PostgreSQL: {EnvironmentVariable} is not set and {BinDirectory}/initdb does not exist.";
            Console.Error.WriteLine(skipReason);
            return;
        }
        try
        {
            await StartClusterAsync();
        }
        catch (Exception e)
        {
            // The binaries are here, so this is a failure to report, not a reason to skip.
            startFailure = $"Could not start a throwaway PostgreSQL cluster: {e.Message}";
            Console.Error.WriteLine(startFailure);
        }
    }

    /// <summary>A fresh, empty database; returns its connection string. Skips the calling test if there is no server.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        if (skipReason is not null) Assert.Skip(skipReason);
        if (startFailure is not null) throw new InvalidOperationException(startFailure);
        var name = $"x_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(adminConnectionString))
        {
            await connection.OpenAsync();
            // A database name cannot be a parameter; this one is made of hex digits only.
            await using var create = new NpgsqlCommand($"create database {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        createdDatabases.Add(name);
        return new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>The schemas of a database whose names start with <paramref name="prefix"/> (read-store generations, say).</summary>
    public static async Task<IReadOnlyList<string>> SchemasAsync(string database, string prefix)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select nspname from pg_namespace where starts_with(nspname, @prefix) order by nspname", connection);
        command.Parameters.AddWithValue("prefix", prefix);
        await using var reader = await command.ExecuteReaderAsync();
        var schemas = new List<string>();
        while (await reader.ReadAsync()) schemas.Add(reader.GetString(0));
        return schemas;
    }

    /// <summary>One database per test class, created on first use: tests of a class share it.</summary>
    public Task<string> DatabaseForClassAsync(Type testClass) =>
        classDatabases.GetOrAdd(testClass, _ => new Lazy<Task<string>>(CreateDatabaseAsync)).Value;

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (clusterDirectory is null)
        {
            await DropCreatedDatabasesAsync();
            return;
        }
        try
        {
            await RunAsync(Path.Combine(BinDirectory, "pg_ctl"), "-D", DataDirectory, "-m", "fast", "-w", "stop");
        }
        finally
        {
            Directory.Delete(clusterDirectory, recursive: true);
        }
    }

    /// <summary>On a server we did not start, leave nothing behind.</summary>
    private async Task DropCreatedDatabasesAsync()
    {
        if (adminConnectionString is null || createdDatabases.IsEmpty) return;
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        foreach (var name in createdDatabases)
        {
            await using var drop = new NpgsqlCommand($"drop database if exists {name} with (force)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    private string DataDirectory => Path.Combine(clusterDirectory!, "data");

    private async Task StartClusterAsync()
    {
        clusterDirectory = Directory.CreateTempSubdirectory("grpcbank-pg-").FullName;
        if (Environment.IsPrivilegedProcess) await RunAsync("chown", "postgres:postgres", clusterDirectory);
        await RunAsync(Path.Combine(BinDirectory, "initdb"),
            "-D", DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync");

        for (var attempt = 1; ; attempt++)
        {
            var port = FreePorts.Next();
            try
            {
                await RunAsync(Path.Combine(BinDirectory, "pg_ctl"),
                    "-D", DataDirectory, "-l", Path.Combine(clusterDirectory, "log"), "-w",
                    "-o", $"-c listen_addresses=127.0.0.1 -p {port} -k {clusterDirectory} -c fsync=off " +
                          "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                    "start");
                adminConnectionString = new NpgsqlConnectionStringBuilder
                {
                    Host = "127.0.0.1",
                    Port = port,
                    Username = "postgres",
                    Database = "postgres",
                }.ConnectionString;
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // Most likely someone took the port between FreePorts.Next and the start; try another.
            }
        }
    }

    /// <summary>Runs a command, as the postgres user when we are root (initdb refuses root); throws on failure.</summary>
    public static async Task RunAsync(string file, params string[] arguments)
    {
        var asPostgres = Environment.IsPrivilegedProcess && file.StartsWith(BinDirectory, StringComparison.Ordinal);
        var start = new ProcessStartInfo(asPostgres ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
            foreach (var prefix in new[] { "-u", "postgres", "--", file }) start.ArgumentList.Add(prefix);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}");
    }
}
