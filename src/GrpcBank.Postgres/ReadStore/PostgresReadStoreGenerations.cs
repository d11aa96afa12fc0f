using System.Collections.Concurrent;
using GrpcBank.Application.ReadSide;
using Npgsql;

namespace GrpcBank.Postgres.ReadStore;

/// <summary>
/// PostgreSQL read-store generations: each is a schema <c>{prefix}_g{stamp}</c>; the schema <c>{prefix}</c> holds
/// views over the serving one and <c>{prefix}.serving</c> names it. A switch replaces the views and the pointer in one
/// transaction, so every server's queries move to the new generation at once; the old schema is dropped after.
/// A generation made by another release (another <see cref="SchemaVersion"/>) is replaced by an empty one at start-up,
/// which the relay then fills from the event store.
/// A generation being built is held by its builder's session lock (on a connection of its own), taken before its schema
/// exists and given back once it serves or is dropped, or when its server dies; one that no server holds when a server
/// starts was left by a crash (a rebuild that never switched), and is dropped then.
/// </summary>
public sealed class PostgresReadStoreGenerations : IReadStoreGenerations, IAsyncDisposable
{
    /// <summary>Raised whenever the tables of Generation.sql change, or what their rows hold (the search words).</summary>
    // 2: holds, overdraft limits and restrictions. 3: words with letters beyond the BMP stored whole (SearchText split them).
    public const int SchemaVersion = 3;

    public const string DefaultPrefix = "bank_read";

    /// <summary>
    /// Whether <paramref name="prefix"/> can name the views' schema and, with a generation's stamp (<c>_g</c> and 19
    /// digits), a generation's: a plain lower-case identifier short enough for both.
    /// </summary>
    public static bool IsValidPrefix(string prefix) => PostgresMigrations.IsPlainIdentifier(StampedName(prefix, new string('0', 19)));

    private readonly NpgsqlDataSource dataSource;
    private readonly RecentConnections connections;
    private readonly string prefix;
    private readonly ConcurrentDictionary<string, NpgsqlConnection> building = new(StringComparer.Ordinal);

    private PostgresReadStoreGenerations(NpgsqlDataSource dataSource, string prefix)
    {
        this.dataSource = dataSource;
        connections = new RecentConnections(dataSource);
        this.prefix = prefix;
    }

    /// <summary>Sets up the frame (extension, pointer, views) under an advisory lock, so servers may start together.</summary>
    /// <param name="prefix">The schema of the views; generations are schemas named after it.</param>
    public static async Task<PostgresReadStoreGenerations> OpenAsync(string connectionString, string prefix, CancellationToken ct)
    {
        if (!IsValidPrefix(prefix)) throw new ArgumentException($"'{prefix}' cannot name a read store's schemas", nameof(prefix));
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true };
        if (builder.MaxAutoPrepare == 0) builder.MaxAutoPrepare = 64;
        var setupSource = NpgsqlDataSource.Create(builder);
        string extensionSchemas;
        try
        {
            await using var connection = await setupSource.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            await ExecuteAsync(connection, tx, "select pg_advisory_xact_lock(hashtext('grpcbank.read_store.' || @prefix))", ct, ("prefix", prefix));
            await ExecuteAsync(connection, tx, Sql("Setup.sql", prefix: prefix), ct);
            extensionSchemas = (string)(await ScalarAsync(connection, tx,
                "select string_agg(distinct extnamespace::regnamespace::text, ',') from pg_extension where extname in ('pg_trgm', 'unaccent')", ct))!;
            var serving = await ScalarAsync(connection, tx, $"select schema_version from {prefix}.serving", ct);
            if (serving is not SchemaVersion)
            {
                var old = (string?)await ScalarAsync(connection, tx, $"select generation from {prefix}.serving", ct);
                // The relay that feeds the views refills an empty generation only when it starts: one running elsewhere
                // (another release's) would go on feeding the empty generation this puts in place of the full one, and
                // never refill it. Held until this transaction ends, so no relay starts before the switch either.
                if (old is not null && !await PostgresRelayLease.TryHoldOffAsync(connection, tx, ct))
                    throw new ReadStoreInUseException($"{prefix} serves a generation", (int)serving!, SchemaVersion);
                var fresh = NewGenerationName(prefix);
                await ExecuteAsync(connection, tx, Sql("Generation.sql", schema: fresh), ct);
                await ServeAsync(connection, tx, prefix, fresh, ct);
                if (old is not null) await DropSchemaAsync(connection, tx, old, ct);
            }
            foreach (var abandoned in await AbandonedAsync(connection, tx, prefix, ct)) await DropSchemaAsync(connection, tx, abandoned, ct);
            await tx.CommitAsync(ct);
        }
        finally
        {
            await setupSource.DisposeAsync();
        }
        // pg_trgm's operators and unaccent (with its dictionary) are found wherever the extensions live.
        builder.SearchPath = extensionSchemas;
        return new PostgresReadStoreGenerations(NpgsqlDataSource.Create(builder), prefix);
    }

    public IReadStore OpenCurrent() => new PostgresReadStore(connections, prefix, null);

    public async Task<IReadStore> CreateNextAsync(CancellationToken ct)
    {
        var name = NewGenerationName(prefix);
        var holder = await dataSource.OpenConnectionAsync(ct);
        building[name] = holder;
        try
        {
            await ExecuteAsync(holder, null, "select pg_advisory_lock(hashtext(@key))", ct, ("key", BuildingKey(name)));
            await using var rented = await connections.OpenAsync(ct);
            var connection = rented.Connection;
            await using var tx = await connection.BeginTransactionAsync(ct);
            await ExecuteAsync(connection, tx, Sql("Generation.sql", schema: name), ct);
            await tx.CommitAsync(ct);
        }
        catch
        {
            await ReleaseAsync(name);
            throw;
        }
        return new PostgresReadStore(connections, prefix, name);
    }

    /// <summary>Generations no server is building and none serves (their schemas are {prefix}_g and digits), locked until <paramref name="tx"/> ends.</summary>
    private static async Task<List<string>> AbandonedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string prefix, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"""
            select nspname from pg_namespace
            where nspname ~ ('^' || @prefix || '_g[0-9]+$') and nspname is distinct from (select generation from {prefix}.serving)
              and pg_try_advisory_xact_lock(hashtext('{BuildingKeyPrefix}' || nspname))
            """, connection, tx);
        command.Parameters.AddWithValue("prefix", prefix);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var abandoned = new List<string>();
        while (await reader.ReadAsync(ct)) abandoned.Add(reader.GetString(0));
        return abandoned;
    }

    private const string BuildingKeyPrefix = "grpcbank.read_generation.";

    private static string BuildingKey(string generation) => BuildingKeyPrefix + generation;

    /// <summary>Gives back the lock of a generation this server built (it serves, or was dropped).</summary>
    private async Task ReleaseAsync(string generation)
    {
        if (!building.TryRemove(generation, out var holder)) return;
        try
        {
            // The pool keeps a connection's session (No Reset On Close): the lock must be given back before it returns there.
            await ExecuteAsync(holder, null, "select pg_advisory_unlock_all()", CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // A broken connection is not pooled again: its session, and the lock, ended with it.
        }
        finally
        {
            await holder.DisposeAsync();
        }
    }

    public async Task SwitchAsync(IReadStore current, IReadStore next, CancellationToken ct)
    {
        var fresh = ((PostgresReadStore)next).Generation ?? throw new ArgumentException("not a new generation", nameof(next));
        await using var rented = await connections.OpenAsync(ct);
        var connection = rented.Connection;
        string old;
        try
        {
            await using var tx = await connection.BeginTransactionAsync(ct);
            // The row lock waits for a batch being applied to the old generation, and holds the next one back until
            // it can only see the new generation.
            old = await ServingAsync(connection, tx, prefix, forShare: false, ct);
            await ServeAsync(connection, tx, prefix, fresh, ct);
            await tx.CommitAsync(ct);
        }
        finally
        {
            // Let go whether or not the switch committed (a rebuild drops no generation once its switch began, as it may
            // serve): one that serves is never taken for abandoned, and one that does not is dropped by the next server
            // that starts (OpenAsync). Held, it kept its connection open and its schema for as long as this server ran.
            await ReleaseAsync(fresh);
        }
        ((PostgresReadStore)next).FollowServing();
        if (old != fresh) await DropSchemaAsync(connection, null, old, ct);
    }

    public async Task DropAsync(IReadStore abandoned, CancellationToken ct)
    {
        var name = ((PostgresReadStore)abandoned).Generation ?? throw new ArgumentException("not a new generation", nameof(abandoned));
        try
        {
            await using var rented = await connections.OpenAsync(ct);
            await DropSchemaAsync(rented.Connection, null, name, ct);
        }
        finally
        {
            // Also when the drop failed: held, the schema could never be dropped by anyone while this server runs, and its
            // holder's connection stayed open with it. Let go, the next server that starts drops it (OpenAsync).
            await ReleaseAsync(name);
        }
    }

    /// <summary>Drops a generation's schema with everything in it (the name is vetted: identifiers cannot be parameters).</summary>
    private static Task DropSchemaAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string generation, CancellationToken ct) =>
        ExecuteAsync(connection, tx, $"drop schema if exists {PostgresMigrations.ValidSchema(generation)} cascade", ct);

    /// <summary>The serving generation's schema, read with a row lock: shared while a batch is applied, exclusive to switch.</summary>
    internal static async Task<string> ServingAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string prefix, bool forShare, CancellationToken ct)
    {
        var name = (string?)await ScalarAsync(connection, tx,
            $"select generation from {prefix}.serving where id = 1 {(forShare ? "for share" : "for update")}", ct)
            ?? throw new InvalidOperationException($"{prefix}.serving names no generation");
        return PostgresMigrations.ValidSchema(name);
    }

    private static async Task ServeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string prefix, string generation, CancellationToken ct)
    {
        await ExecuteAsync(connection, tx, Sql("Serve.sql", prefix: prefix, schema: generation), ct);
        await ExecuteAsync(connection, tx, $"""
            insert into {prefix}.serving (id, generation, schema_version) values (1, @generation, @version)
            on conflict (id) do update set generation = excluded.generation, schema_version = excluded.schema_version
            """, ct, ("generation", generation), ("version", SchemaVersion));
    }

    private static string NewGenerationName(string prefix) =>
        PostgresMigrations.ValidSchema(StampedName(prefix, $"{DateTime.UtcNow:yyyyMMddHHmmssfff}{Random.Shared.Next(100):00}"));

    private static string StampedName(string prefix, string stamp) => $"{prefix}_g{stamp}";

    /// <summary>An embedded script with its schema names filled in (identifiers cannot be parameters; both are vetted).</summary>
    private static string Sql(string script, string? prefix = null, string? schema = null)
    {
        using var stream = typeof(PostgresReadStoreGenerations).Assembly.GetManifestResourceStream($"GrpcBank.Postgres.ReadStore.{script}")
            ?? throw new InvalidOperationException($"{script} is not embedded");
        var sql = new StreamReader(stream).ReadToEnd();
        if (prefix is not null) sql = sql.Replace("{prefix}", PostgresMigrations.ValidSchema(prefix));
        if (schema is not null) sql = sql.Replace("{schema}", PostgresMigrations.ValidSchema(schema));
        return sql;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        var value = await command.ExecuteScalarAsync(ct);
        return value is DBNull ? null : value;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var generation in building.Keys) await ReleaseAsync(generation);
        await connections.DisposeAsync();
        await dataSource.DisposeAsync();
    }
}
