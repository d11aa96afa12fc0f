namespace GrpcBank.Ctl.Cli;

/// <summary>What bankctl's exit status means, for scripts.</summary>
public static class ExitCode
{
    public const int Ok = 0;
    /// <summary>The server answered with an error status (it refused, or could not do it), or what was asked for does not exist.</summary>
    public const int Refused = 1;
    /// <summary>The command line is wrong: unknown option, missing argument, a value that does not parse.</summary>
    public const int Usage = 2;
    /// <summary>No server answered at the address.</summary>
    public const int Unreachable = 3;
    /// <summary>bankctl verify found drift: the read side disagrees with the event store, or the money does not add up.</summary>
    public const int Drift = 4;
    /// <summary>Cancelled (Ctrl+C) before a one-shot command finished.</summary>
    public const int Cancelled = 130;
}
