using System.Text;
using Microsoft.Win32.SafeHandles;

namespace GrpcBank.Ctl.Output;

/// <summary>
/// Standard output redirected to a pipe, written through its file descriptor so that a reader who has gone
/// is heard of: Console.Out ignores a broken pipe (EPIPE) and .NET ignores SIGPIPE, so `bankctl subscribe | head -1`
/// went on tailing into nothing, and its pipeline never ended.
/// </summary>
public static class PipedOutput
{
    private const int BrokenPipe = 32; // EPIPE on Linux and macOS

    /// <summary>The process's standard output: when it is a pipe (Unix), a writer that throws <see cref="IOException"/> once
    /// its reader has gone; Console.Out otherwise.</summary>
    public static TextWriter Open()
    {
        if (!Console.IsOutputRedirected || OperatingSystem.IsWindows()) return Console.Out;
        var stream = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        // A file keeps Console.Out: FileStream writes a seekable file at offsets of its own, leaving the descriptor's
        // offset, shared with the shell, behind (`{ echo a; bankctl …; echo b; } > f` then wrote b over bankctl's lines).
        if (stream.CanSeek)
        {
            stream.Dispose();
            return Console.Out;
        }
        return TextWriter.Synchronized(new StreamWriter(stream, new UTF8Encoding(false), bufferSize: 4096) { AutoFlush = true });
    }

    /// <summary>Whether <paramref name="e"/> says the reader of the output has gone.</summary>
    public static bool IsBrokenPipe(IOException e) => e.HResult == BrokenPipe;
}
