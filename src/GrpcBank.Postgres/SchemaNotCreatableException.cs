namespace GrpcBank.Postgres;

/// <summary>
/// The store's tables are missing or behind, and the role the server connects as may not create them: the operator's to
/// fix (apply the migrations as a role that may, then start again), never a crash. The message names the role, the
/// schema, the scripts not applied and both ways to apply them.
/// </summary>
public sealed class SchemaNotCreatableException(string role, string? schema, IReadOnlyList<string> pending, Npgsql.PostgresException cause)
    : Exception(
        $"role {role} may not create the bank's tables in schema {schema ?? "(none of the search path exists)"} ({cause.MessageText}), " +
        $"and {pending.Count} migration(s) are not applied: {string.Join(", ", pending)}. Apply them as a role that may (start the " +
        "server once with that role's connection string, which applies what is missing; or, for an empty schema, pipe " +
        "`GrpcBank.Server --print-postgres-schema` into psql as that role), then start as this one. This role needs USAGE on " +
        "the schema, SELECT, INSERT, UPDATE and DELETE on its tables, and USAGE and SELECT on its sequences", cause);
