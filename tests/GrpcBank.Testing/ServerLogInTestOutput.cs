using Microsoft.Extensions.Logging;
using Xunit;

namespace GrpcBank.Testing;

/// <summary>
/// The server's warnings and errors, written into the output of the test that started it: a test that fails on an
/// INTERNAL answer then shows the logged stack trace behind its error id, even when it failed only once, on CI.
/// </summary>
internal sealed class ServerLogInTestOutput(ITestOutputHelper output) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, output);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ITestOutputHelper output) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            try
            {
                output.WriteLine($"[server {logLevel}] {category}: {formatter(state, exception)}{(exception is null ? "" : "\n" + exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test has finished; a server still shutting down has nobody left to tell.
            }
        }
    }
}
