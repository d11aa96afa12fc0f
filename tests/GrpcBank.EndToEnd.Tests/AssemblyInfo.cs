using GrpcBank.Testing;

// One throwaway PostgreSQL for the whole run; each test class gets a fresh database.
[assembly: AssemblyFixture(typeof(PostgresServer))]
