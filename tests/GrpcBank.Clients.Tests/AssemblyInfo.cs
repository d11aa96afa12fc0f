using GrpcBank.Clients.Tests;

// One server child process for the whole run; the test classes share it (every scenario uses fresh ids).
[assembly: AssemblyFixture(typeof(ServerFixture))]
