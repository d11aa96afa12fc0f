using Npgsql;

namespace GrpcBank.Postgres;

/// <summary>
/// What every session the server opens runs with, whatever a DBA set as the role's or database's default.
/// <c>idle_session_timeout</c> (PostgreSQL 14+), set short to end forgotten sessions, also ended the server's own, which
/// idle by design: the relay lease's (pinged each second: at 1 s the lease was lost and taken again every second or two,
/// the relay's deliveries cut each time, a warning and an error logged each time), the LISTEN connection and the pool's
/// between commands. The pool ends its own idle connections (Npgsql's <c>Connection Idle Lifetime</c>). The operator's own
/// <c>idle_session_timeout</c> in the connection string's <c>Options</c> wins.
/// </summary>
public static class PostgresSessions
{
    public static string Of(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.Options?.Contains("idle_session_timeout", StringComparison.Ordinal) == true) return connectionString;
        builder.Options = $"{builder.Options} -c idle_session_timeout=0".Trim();
        return builder.ConnectionString;
    }
}
