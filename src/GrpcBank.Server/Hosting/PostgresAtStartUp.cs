using System.Net.Sockets;
using GrpcBank.Application.ReadSide;
using GrpcBank.Postgres;
using Npgsql;

namespace GrpcBank.Server.Hosting;

/// <summary>
/// Opens what lives in PostgreSQL at start-up. A PostgreSQL that cannot be reached, or refuses the connection string
/// (no such database, a wrong password, no right to create an extension), is the operator's to fix: the server refuses
/// to start in one line naming the server and the cause (the password left out), not with an unhandled exception's
/// abort and a page of stack trace.
/// </summary>
public static class PostgresAtStartUp
{
    public static T Open<T>(string connectionString, Func<Task<T>> open)
    {
        try
        {
            return open().GetAwaiter().GetResult();
        }
        catch (ReadStoreInUseException e)
        {
            throw new StartupRefusedException(e.Message, e);
        }
        catch (SchemaNotCreatableException e)
        {
            throw Refused(connectionString, e.Message, e);
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException)
        {
            throw Refused(connectionString, CauseOf(e), e);
        }
    }

    private static StartupRefusedException Refused(string connectionString, string cause, Exception e)
    {
        var at = new NpgsqlConnectionStringBuilder(connectionString);
        return new StartupRefusedException(
            $"PostgreSQL at {at.Host}:{at.Port}, database {at.Database ?? at.Username} (ConnectionStrings:Postgres) cannot be used: {cause}", e);
    }

    /// <summary>Npgsql's message and what it wraps ("Failed to connect to …" says nothing of the refused connection).</summary>
    private static string CauseOf(Exception e) => e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
}
