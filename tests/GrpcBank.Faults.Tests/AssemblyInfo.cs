using GrpcBank.Testing;

// One throwaway PostgreSQL for the whole run (the kill -9 spec in PostgreSQL mode); each test takes a fresh database.
// The PostgreSQL-restart spec needs a cluster it may stop, so it starts its own (ThrowawayCluster).
[assembly: AssemblyFixture(typeof(PostgresServer))]
