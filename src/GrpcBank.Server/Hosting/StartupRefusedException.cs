namespace GrpcBank.Server.Hosting;

/// <summary>
/// A configuration the server will not run with (an unwritable data directory, a bad key, an exposed address without
/// keys): a mistake to be fixed by the operator, reported as one line and a failing exit code, not as a crash.
/// </summary>
public class StartupRefusedException(string message, Exception? inner = null) : Exception(message, inner);
