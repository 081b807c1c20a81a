using System.Runtime.InteropServices;

namespace Ferry.Host.Bench;

/// <summary>RLIMIT_NOFILE of this process: thousands of sockets need more than a login shell's usual 1024.</summary>
internal static partial class FileDescriptorLimit
{
    private const int RlimitNofile = 7; // Linux

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);

    /// <summary>Raises the soft limit to at least <paramref name="needed"/> (up to the hard limit), or explains why not.</summary>
    /// <exception cref="ArgumentException">The hard limit is too low.</exception>
    public static void EnsureAtLeast(int needed)
    {
        if (!OperatingSystem.IsLinux() || GetRLimit(RlimitNofile, out var limit) != 0 || limit.Current >= (ulong)needed)
        {
            return;
        }
        if (limit.Maximum < (ulong)needed)
        {
            throw new ArgumentException($"{needed} file descriptors are needed but the hard limit (ulimit -Hn) is {limit.Maximum}");
        }
        var raised = limit with { Current = (ulong)needed };
        if (SetRLimit(RlimitNofile, in raised) != 0)
        {
            throw new ArgumentException($"cannot raise the open-file limit to {needed} (errno {Marshal.GetLastPInvokeError()})");
        }
    }
}
