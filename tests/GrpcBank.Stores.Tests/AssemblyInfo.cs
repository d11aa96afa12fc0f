using GrpcBank.Testing;

[assembly: AssemblyFixture(typeof(PostgresServer))]
