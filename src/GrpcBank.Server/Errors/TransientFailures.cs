using System.Net.Sockets;
using GrpcBank.Elasticsearch;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace GrpcBank.Server.Errors;

/// <summary>
/// Which failures are the infrastructure's passing trouble (a lost connection, a timeout, a busy database, a serialization
/// failure), so that a retry may succeed: those are UNAVAILABLE. Everything else is a fault of the bank's own, INTERNAL.
/// Kept at the edge, so Application and Domain never learn the database drivers' exception types.
/// </summary>
public static class TransientFailures
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteNoMem = 7;
    private const int SqliteReadOnly = 8;
    private const int SqliteIoErr = 10;
    private const int SqliteFull = 13;
    private const int SqliteCantOpen = 14;

    public static bool IsTransient(Exception e) => e switch
    {
        // Npgsql's own judgement: connection failures, timeouts, serialization failures, deadlocks, a server shutting down.
        // Npgsql leaves out query_canceled, which the server raises for a statement past the role's or database's
        // statement_timeout (held up by a lock, a busy server) or cancelled by an operator: its transaction is rolled back,
        // and a retry may succeed. (The caller's own cancellation is answered before this, as CANCELLED or DEADLINE_EXCEEDED.)
        // Npgsql also leaves out read_only_sql_transaction: a write on a standby (a failover under way, a connection string
        // that reached the demoted primary) or in a database a DBA set default_transaction_read_only, which passes once
        // the primary is back or the setting is undone, and nothing was written (it was INTERNAL, "do not retry").
        // A right revoked (insufficient_privilege) stays INTERNAL: it lasts until an operator grants it again, and the
        // error id leads to the role and table in the log.
        NpgsqlException npgsql => npgsql.IsTransient || npgsql is PostgresException
        {
            SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.QueryCanceled
                or PostgresErrorCodes.ReadOnlySqlTransaction,
        },
        // The primary result code is the low byte of an extended one (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE, …).
        // A full disk, an I/O error or no memory is the machine's trouble, as Npgsql judges PostgreSQL's (disk_full,
        // io_error, out_of_memory), and so is a file that cannot be written or opened (a file system remounted read-only, a
        // store file deleted under the server: SqliteDatabase refuses to commit then, no file descriptors left): the
        // transaction was rolled back (or, failing in its last sync, may yet be recovered, which a retry with the same
        // request_id answers), and freeing space or mending the files mends it. They were INTERNAL, "do not retry".
        SqliteException sqlite => (sqlite.SqliteErrorCode & 0xff) is SqliteBusy or SqliteLocked or SqliteNoMem or SqliteReadOnly
            or SqliteIoErr or SqliteFull or SqliteCantOpen,
        // Elasticsearch answered 429 or 5xx: overloaded or restarting, not broken (a refused connection is judged by its inner exception).
        ElasticsearchReadStoreException elasticsearch when elasticsearch.IsTransient => true,
        TimeoutException or IOException or SocketException or HttpRequestException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsTransient),
        // A wrapper (an adapter's own exception, a cancelled HTTP call) is as transient as its cause.
        _ => e.InnerException is { } inner && IsTransient(inner),
    };
}
