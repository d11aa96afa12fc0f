using GrpcBank.Testing;

// One PostgreSQL server for the run (PostgresReadStoreConformance); a database per test class.
[assembly: AssemblyFixture(typeof(PostgresServer))]
