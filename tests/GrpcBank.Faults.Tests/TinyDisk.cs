using System.Diagnostics;

namespace GrpcBank.Faults.Tests;

/// <summary>
/// A tmpfs of a few MiB mounted on a fresh folder, so that a spec can fill the disk under a data directory for real;
/// unmounted when disposed. Needs root on Linux: <see cref="TryMountAsync"/> says why it cannot be had instead.
/// </summary>
public sealed class TinyDisk : IAsyncDisposable
{
    public string Path { get; }

    private TinyDisk(string path) => Path = path;

    public static async Task<(TinyDisk? Disk, string? WhyNot)> TryMountAsync(int megabytes)
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess) return (null, "needs root on Linux, to mount a tmpfs");
        var path = KillUnderLoadSpecs.TempDirectory();
        Directory.CreateDirectory(path);
        var (ok, output) = await RunAsync("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        return ok ? (new TinyDisk(path), null) : (null, $"cannot mount a tmpfs: {output}");
    }

    /// <summary>Takes all the free space but (about) <paramref name="leftBytes"/> with a file of its own; deleting the file frees it.</summary>
    public string Fill(long leftBytes)
    {
        var filler = System.IO.Path.Combine(Path, "filler");
        var size = new DriveInfo(Path).AvailableFreeSpace - leftBytes;
        using var file = File.Create(filler);
        var block = new byte[64 * 1024];
        Array.Fill(block, (byte)1); // written, not just sized: tmpfs allocates pages on write
        try
        {
            for (var written = 0L; written < size; written += block.Length) file.Write(block, 0, (int)Math.Min(block.Length, size - written));
        }
        catch (IOException)
        {
            // The server wrote meanwhile and the disk is full already: as good.
        }
        return filler;
    }

    public async ValueTask DisposeAsync() => await RunAsync("umount", "-l", Path);

    private static async Task<(bool Ok, string Output)> RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = await process.StandardError.ReadToEndAsync() + await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode == 0, output);
    }
}
