using System.Text.RegularExpressions;
using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// Applies the embedded <c>Migrations/*.sql</c> scripts in name order, once each, recording them in
/// <c>schema_migrations</c>. Safe when several server instances start at once: everything runs in one
/// transaction that first takes a transaction-scoped advisory lock.
/// </summary>
public static partial class PostgresMigrations
{
    private const string ResourcePrefix = "GrpcBank.Postgres.Migrations.";

    public static async Task ApplyAsync(NpgsqlDataSource dataSource, string? schema, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await ExecuteAsync(connection, "select pg_advisory_xact_lock(hashtext('grpcbank.schema_migrations'))", ct);
        if (schema is not null)
            // An identifier cannot be a parameter; ValidSchema has vetted it.
            await ExecuteAsync(connection, $"create schema if not exists {ValidSchema(schema)}", ct);
        await ExecuteAsync(connection, """
            create table if not exists schema_migrations (
                version    text        primary key,
                applied_at timestamptz not null default now()
            )
            """, ct);

        var applied = new HashSet<string>();
        await using (var read = new NpgsqlCommand("select version from schema_migrations", connection))
        await using (var reader = await read.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) applied.Add(reader.GetString(0));

        foreach (var (version, sql) in Scripts().Where(s => !applied.Contains(s.Version)))
        {
            await ExecuteAsync(connection, sql, ct);
            await using var record = new NpgsqlCommand("insert into schema_migrations (version) values ($1)", connection)
            {
                Parameters = { new() { Value = version } },
            };
            await record.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>The schema name itself, if it is a plain lower-case identifier; anything else is refused.</summary>
    public static string ValidSchema(string schema) =>
        IsPlainIdentifier(schema) ? schema : throw new ArgumentException($"'{schema}' is not a plain lower-case identifier", nameof(schema));

    /// <summary>A lower-case identifier PostgreSQL takes unquoted and unchanged, of at most 63 characters.</summary>
    public static bool IsPlainIdentifier(string name) => PlainIdentifier().IsMatch(name);

    private static IEnumerable<(string Version, string Sql)> Scripts()
    {
        var assembly = typeof(PostgresMigrations).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            yield return (Path.GetFileNameWithoutExtension(name[ResourcePrefix.Length..]), reader.ReadToEnd());
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex PlainIdentifier();
}
