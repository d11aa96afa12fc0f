using System.Runtime.InteropServices;

namespace GrpcBank.Bench;

public static class Machine
{
    public static Task<string> DescribeAsync()
    {
        string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
        var model = Read("/proc/cpuinfo").Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var memKb = Read("/proc/meminfo").Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal", StringComparison.Ordinal))?
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] ?? "0";
        var kernel = Read("/proc/sys/kernel/osrelease").Trim();
        var root = Read("/proc/mounts").Split('\n').Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 2 && f[1] == "/");
        return Task.FromResult(
            $"{Environment.ProcessorCount} cores ({model}), {long.Parse(memKb) / 1024.0 / 1024:N1} GiB RAM, Linux {kernel}, " +
            $"{RuntimeInformation.FrameworkDescription}, root file system {root?[2]} on {root?[0]}");
    }
}
