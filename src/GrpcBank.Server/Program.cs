using GrpcBank.Server.Hosting;

await BankServer.Build(args).RunAsync();
