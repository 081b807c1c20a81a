namespace Ferry.Store.IO;

/// <summary>
/// The file operations the journal needs, and nothing more. Every byte the journal reads or writes goes
/// through this seam, so tests can swap in <see cref="FaultInjectingFileSystem"/> to tear writes, fail
/// flushes and run out of space at chosen points.
/// </summary>
/// <remarks>
/// Operations that are single system calls with no asynchronous form (flush to disk, truncate, create,
/// delete) are synchronous; callers run them from their own I/O loop. Implementations must allow
/// positional reads on a file concurrently with positional writes to it.
/// </remarks>
public interface IFileSystem
{
    /// <summary>Creates the directory (and its parents) if it does not exist.</summary>
    void CreateDirectory(string path);

    /// <summary>The full paths of the files directly in <paramref name="directory"/>.</summary>
    IReadOnlyList<string> ListFiles(string directory);

    /// <summary>Creates a new, empty file for reading and writing; fails if it already exists.</summary>
    IRandomAccessFile CreateNew(string path);

    /// <summary>Opens an existing file for reading and writing.</summary>
    IRandomAccessFile Open(string path);

    /// <summary>Removes a file. The removal is durable only after <see cref="FlushDirectory"/>.</summary>
    void Delete(string path);

    /// <summary>Makes the creation and removal of files in <paramref name="directory"/> durable (fsync of the directory).</summary>
    void FlushDirectory(string directory);
}

/// <summary>A file read and written at explicit offsets (pread/pwrite), never through a shared cursor.</summary>
public interface IRandomAccessFile : IDisposable
{
    string Path { get; }

    /// <summary>The file's current length in bytes.</summary>
    long Length { get; }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; returns 0 at the end of the file.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken = default);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>, extending the file if needed.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes every completed write (and the file's length) durable: fdatasync on Linux, fsync or
    /// FlushFileBuffers elsewhere. Blocks the calling thread for the duration of the call.
    /// </summary>
    void FlushToDisk();

    /// <summary>Cuts the file to (or extends it with zeros to) <paramref name="length"/> bytes.</summary>
    void SetLength(long length);
}
