using GrpcBank.Server.Hosting;

try
{
    await BankServer.Build(args).RunAsync();
    return 0;
}
catch (DataDirectoryException e)
{
    // A configuration mistake, not a crash: one clear line and a failing exit code, no stack trace.
    await Console.Error.WriteLineAsync($"GrpcBank cannot start: {e.Message}");
    return 1;
}
