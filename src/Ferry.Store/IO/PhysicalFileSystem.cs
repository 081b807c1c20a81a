using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Store.IO;

/// <summary>
/// The real file system. Files are opened as raw handles and accessed with <see cref="RandomAccess"/>
/// (pread/pwrite), with no user-space buffering, so a completed write is in the OS page cache and
/// <see cref="IRandomAccessFile.FlushToDisk"/> is the only step left to make it durable.
/// </summary>
/// <remarks>
/// Flushing a file calls <c>fdatasync(2)</c> on Linux (the data and the metadata needed to read it back,
/// such as the length, but not timestamps) and <see cref="RandomAccess.FlushToDisk"/> elsewhere
/// (<c>fsync</c> on Unix, <c>F_FULLFSYNC</c> on macOS, <c>FlushFileBuffers</c> on Windows). Flushing a
/// directory opens it and calls <c>fsync(2)</c> on Unix; on Windows it is a no-op (NTFS journals
/// directory changes itself, and a directory cannot be opened for flushing).
/// </remarks>
public sealed class PhysicalFileSystem : IFileSystem
{
    public static PhysicalFileSystem Instance { get; } = new();

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public IReadOnlyList<string> ListFiles(string directory) => Directory.GetFiles(directory);

    public IRandomAccessFile CreateNew(string path) => new PhysicalFile(path, OpenHandle(path, FileMode.CreateNew));

    public IRandomAccessFile Open(string path) => new PhysicalFile(path, OpenHandle(path, FileMode.Open));

    public void Delete(string path) => File.Delete(path);

    public void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        int fd = NativeMethods.Open(directory, NativeMethods.ReadOnly);
        if (fd < 0)
        {
            throw NativeMethods.Failure("open", directory);
        }
        try
        {
            if (NativeMethods.FSync(fd) != 0)
            {
                throw NativeMethods.Failure("fsync", directory);
            }
        }
        finally
        {
            _ = NativeMethods.Close(fd);
        }
    }

    private static SafeFileHandle OpenHandle(string path, FileMode mode) =>
        File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);

    private sealed class PhysicalFile(string path, SafeFileHandle handle) : IRandomAccessFile
    {
        public string Path { get; } = path;

        public long Length => RandomAccess.GetLength(handle);

        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken = default) =>
            RandomAccess.ReadAsync(handle, buffer, offset, cancellationToken);

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken = default) =>
            RandomAccess.WriteAsync(handle, data, offset, cancellationToken);

        public void FlushToDisk()
        {
            if (OperatingSystem.IsLinux())
            {
                if (NativeMethods.FDataSync(handle) != 0)
                {
                    throw NativeMethods.Failure("fdatasync", Path);
                }
                return;
            }
            RandomAccess.FlushToDisk(handle);
        }

        public void SetLength(long length) => RandomAccess.SetLength(handle, length);

        public void Dispose() => handle.Dispose();
    }
}

/// <summary>The few libc calls .NET does not expose: fdatasync, and fsync of a directory.</summary>
internal static class NativeMethods
{
    public const int ReadOnly = 0; // O_RDONLY; enough to fsync a directory

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int FDataSync(SafeFileHandle fd);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int FSync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Close(int fd);

    public static IOException Failure(string call, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call}({path}) failed: {new Win32Exception(errno).Message} (errno {errno})", errno);
    }
}
