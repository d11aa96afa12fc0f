namespace GrpcBank.Ctl.Tests;

/// <summary>What one bankctl run printed and returned.</summary>
public sealed record CtlRun(int ExitCode, string Stdout, string Stderr)
{
    public string[] Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>Runs bankctl in this process, as a person would type it.</summary>
public static class Ctl
{
    public static Task<CtlRun> RunAsync(BankHost host, params string[] args) => RunAsync(host.GrpcUrl, args);

    public static Task<CtlRun> RunAsync(string server, params string[] args) => RunAsync(CancellationToken.None, ["--server", server, .. args]);

    public static async Task<CtlRun> RunAsync(CancellationToken ct, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await Program.RunAsync(args, stdout, stderr, ct);
        return new CtlRun(exit, stdout.ToString(), stderr.ToString());
    }
}
