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

    private const string SchemaMigrationsTable = """
        create table if not exists schema_migrations (
            version    text        primary key,
            applied_at timestamptz not null default now()
        )
        """;

    public static async Task ApplyAsync(NpgsqlDataSource dataSource, string? schema, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await ExecuteAsync(connection, "select pg_advisory_xact_lock(hashtext('grpcbank.schema_migrations'))", ct);
        // Nothing to apply, nothing created: a role a DBA granted only the use of the tables (no CREATE on the schema, which
        // even CREATE … IF NOT EXISTS of a table already there asks for) starts on a schema a migration role made.
        var (role, searchSchema, applied) = await AppliedAsync(connection, ct);
        var pending = Scripts().Where(s => !applied.Contains(s.Version)).ToList();
        if (pending.Count == 0)
        {
            await tx.CommitAsync(ct);
            return;
        }
        try
        {
            if (schema is not null)
                // An identifier cannot be a parameter; ValidSchema has vetted it.
                await ExecuteAsync(connection, $"create schema if not exists {ValidSchema(schema)}", ct);
            await ExecuteAsync(connection, SchemaMigrationsTable, ct);
            foreach (var (version, sql) in pending)
            {
                await ExecuteAsync(connection, sql, ct);
                await using var record = new NpgsqlCommand("insert into schema_migrations (version) values ($1)", connection)
                {
                    Parameters = { new() { Value = version } },
                };
                await record.ExecuteNonQueryAsync(ct);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new SchemaNotCreatableException(role, schema ?? searchSchema, pending.Select(s => s.Version).ToList(), e);
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Who connected, the schema the tables go to (the first of the search path that exists) and the scripts
    /// <c>schema_migrations</c> records (none if it is not there yet): read with no right but SELECT.
    /// </summary>
    private static async Task<(string Role, string? Schema, HashSet<string> Applied)> AppliedAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var applied = new HashSet<string>();
        string role;
        string? schema;
        await using (var who = new NpgsqlCommand("select current_user::text, current_schema()::text, to_regclass('schema_migrations') is not null", connection))
        await using (var row = await who.ExecuteReaderAsync(ct))
        {
            await row.ReadAsync(ct);
            (role, schema) = (row.GetString(0), row.IsDBNull(1) ? null : row.GetString(1));
            if (!row.GetBoolean(2)) return (role, schema, applied);
        }
        await using var read = new NpgsqlCommand("select version from schema_migrations", connection);
        await using var reader = await read.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) applied.Add(reader.GetString(0));
        return (role, schema, applied);
    }

    /// <summary>
    /// What <see cref="ApplyAsync"/> runs on an empty schema, as one script for psql (<c>GrpcBank.Server
    /// --print-postgres-schema</c>): a DBA's migration role applies it where the server's own role may not create tables.
    /// The search path chooses the schema, as for the server.
    /// </summary>
    public static string ScriptForEmptySchema()
    {
        var script = new System.Text.StringBuilder();
        script.AppendLine("-- GrpcBank's PostgreSQL event store, for an empty schema. To bring one up to date, start the server once as this role.");
        script.AppendLine("begin;");
        script.AppendLine(SchemaMigrationsTable + ";");
        foreach (var (version, sql) in Scripts())
        {
            script.AppendLine($"-- {version}").AppendLine(sql.TrimEnd());
            // Resource names: letters, digits and underscores.
            script.AppendLine($"insert into schema_migrations (version) values ('{version}');");
        }
        return script.AppendLine("commit;").ToString();
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
