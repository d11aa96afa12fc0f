using GrpcBank.Server.Hosting;

// For a DBA's migration role, where the server's own may not create tables: the DDL it would run on an empty schema.
if (args is ["--print-postgres-schema"])
{
    Console.Out.Write(GrpcBank.Postgres.PostgresMigrations.ScriptForEmptySchema());
    return 0;
}

// First: a signal from here on is a stop, not the runtime's default end (exit code 143).
using var signals = StopSignals.Register();
try
{
    var app = BankServer.Build(args, signals: signals);
    if (!signals.StartUp.IsCancellationRequested)
    {
        await app.RunAsync();
        return 0;
    }
    // Stopped as the stores opened: they close as they would at any stop, and nothing was served.
    await app.DisposeAsync();
    return StoppedWhileStartingUp();
}
catch (Exception e) when (Refusal(e) is { } refusal)
{
    // A configuration mistake, not a crash: one clear line and a failing exit code, no stack trace.
    await Console.Error.WriteLineAsync($"GrpcBank cannot start: {refusal.Message}");
    return 1;
}
catch (OperationCanceledException) when (signals.StartUp.IsCancellationRequested)
{
    // The opening of a store gave up at the signal; what it had begun (PostgreSQL's migrations) is rolled back.
    return StoppedWhileStartingUp();
}

// A stop asked for, as at any other moment: exit code 0, and one line that says the server never served.
static int StoppedWhileStartingUp()
{
    Console.Out.WriteLine("GrpcBank stopped while starting up: a stop (SIGTERM, Ctrl+C) came before it served");
    return 0;
}

// The host may wrap what a start-up step threw.
static StartupRefusedException? Refusal(Exception e) => e switch
{
    StartupRefusedException refused => refused,
    AggregateException { InnerExceptions: [var single] } => Refusal(single),
    _ => null,
};
