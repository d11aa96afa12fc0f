using GrpcBank.Server.Hosting;

try
{
    await BankServer.Build(args).RunAsync();
    return 0;
}
catch (Exception e) when (Refusal(e) is { } refusal)
{
    // A configuration mistake, not a crash: one clear line and a failing exit code, no stack trace.
    await Console.Error.WriteLineAsync($"GrpcBank cannot start: {refusal.Message}");
    return 1;
}

// The host may wrap what a start-up step threw.
static StartupRefusedException? Refusal(Exception e) => e switch
{
    StartupRefusedException refused => refused,
    AggregateException { InnerExceptions: [var single] } => Refusal(single),
    _ => null,
};
