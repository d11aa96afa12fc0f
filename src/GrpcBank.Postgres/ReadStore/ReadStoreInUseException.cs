namespace GrpcBank.Postgres.ReadStore;

/// <summary>
/// The PostgreSQL read store serves a generation of another read-store schema (another release's) while a server runs
/// the relay: replacing it now would empty the read side for good (<see cref="PostgresReadStoreGenerations.OpenAsync"/>).
/// </summary>
public sealed class ReadStoreInUseException(string prefix, int servingSchema) : InvalidOperationException(
    $"The read store {prefix} serves a generation of read-store schema {servingSchema} (another release's; this one's is " +
    $"{PostgresReadStoreGenerations.SchemaVersion}) and a server runs the relay: replaced now, the read side would be left " +
    "empty, fed only with new events by that relay. A change of the read-store schema is not a rolling upgrade: stop the " +
    "servers of the other release, then start this one, which replaces the read side and refills it from the event store.");
