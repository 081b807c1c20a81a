namespace Ferry.Store.IO;

/// <summary>The operations of <see cref="IFileSystem"/> where <see cref="FaultInjectingFileSystem"/> can inject a fault.</summary>
public enum FaultPoint
{
    CreateFile,
    OpenFile,
    Write,
    Flush,
    SetLength,
    Delete,
    FlushDirectory,
}

/// <summary>Thrown by every operation of a <see cref="FaultInjectingFileSystem"/> once it has simulated a crash.</summary>
public sealed class SimulatedCrashException : IOException
{
    public SimulatedCrashException() : base("simulated crash: the file system is gone") { }

    public SimulatedCrashException(string message) : base(message) { }

    public SimulatedCrashException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Wraps another file system and injects faults at named points (<see cref="FaultPoint"/>):
/// <list type="bullet">
/// <item><see cref="TearNextWrite"/>: the next write persists only its first N bytes, then the process "crashes".</item>
/// <item><see cref="CrashAt"/>: the chosen operation crashes before doing anything (e.g. before a segment is deleted).</item>
/// <item><see cref="FailAt"/>: the chosen operation throws an <see cref="IOException"/> (EIO) and does nothing; the
/// file system keeps working (e.g. a failed fsync).</item>
/// <item><see cref="SetFreeSpace"/>: writes that grow a file past the budget persist what fits and throw an <see cref="IOException"/> like ENOSPC
/// (overwriting bytes a file already has needs no space; cutting a file gives space back).</item>
/// </list>
/// A crash models a killed process: what was written stays in the files (the page cache survives), and every
/// later operation throws <see cref="SimulatedCrashException"/>, so the code under test cannot tidy up. Reopen the
/// directory with a fresh file system to recover. <see cref="DiscardUnflushedWritesAsync"/> additionally models a power
/// loss: every file written through this instance gets back the bytes it had at its last flush where they were
/// overwritten since, and is cut back to the length it had then (creations and deletions are not rolled back).
/// </summary>
public sealed class FaultInjectingFileSystem(IFileSystem inner) : IFileSystem
{
    private const int ENoSpc = 28;
    private const int EIo = 5;

    private readonly Lock _gate = new();
    private readonly List<ArmedFault> _armed = [];
    private readonly int[] _counts = new int[Enum.GetValues<FaultPoint>().Length];
    private readonly Dictionary<string, long> _flushedLengths = new(StringComparer.Ordinal);
    // Per file, the flushed bytes overwritten since its last flush, in write order: a power loss puts them back.
    private readonly Dictionary<string, List<(long Offset, byte[] Before)>> _overwritten = new(StringComparer.Ordinal);
    private bool _crashed;
    private int _tearKeepBytes = -1;
    private long? _freeSpace;

    /// <summary>Whether a crash has been simulated; from then on every operation throws.</summary>
    public bool HasCrashed
    {
        get
        {
            lock (_gate)
            {
                return _crashed;
            }
        }
    }

    /// <summary>How many times the operation at <paramref name="point"/> was attempted.</summary>
    public int CountOf(FaultPoint point)
    {
        lock (_gate)
        {
            return _counts[(int)point];
        }
    }

    /// <summary>The next write persists only its first <paramref name="keepBytes"/> bytes, then the file system crashes.</summary>
    public void TearNextWrite(int keepBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keepBytes);
        lock (_gate)
        {
            _tearKeepBytes = keepBytes;
        }
    }

    /// <summary>The operation at <paramref name="point"/>, after <paramref name="skip"/> more that succeed, crashes before it does anything.</summary>
    public void CrashAt(FaultPoint point, int skip = 0) => Arm(point, skip, crash: true);

    /// <summary>The operation at <paramref name="point"/>, after <paramref name="skip"/> more that succeed, throws an IOException (EIO) and does nothing.</summary>
    public void FailAt(FaultPoint point, int skip = 0) => Arm(point, skip, crash: false);

    /// <summary>Writes may add at most <paramref name="bytes"/> more bytes; null lifts the limit.</summary>
    public void SetFreeSpace(long? bytes)
    {
        lock (_gate)
        {
            _freeSpace = bytes;
        }
    }

    /// <summary>Crashes now.</summary>
    public void Crash()
    {
        lock (_gate)
        {
            _crashed = true;
        }
    }

    /// <summary>Models a power loss after a crash: every file written through this instance loses what was not flushed.</summary>
    public async Task DiscardUnflushedWritesAsync()
    {
        KeyValuePair<string, long>[] files;
        Dictionary<string, List<(long Offset, byte[] Before)>> overwritten;
        lock (_gate)
        {
            _crashed = true;
            files = [.. _flushedLengths];
            overwritten = new(_overwritten, StringComparer.Ordinal);
            _overwritten.Clear();
        }
        foreach (var (path, flushed) in files)
        {
            IRandomAccessFile file;
            try
            {
                file = inner.Open(path);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                continue;
            }
            using (file)
            {
                if (overwritten.TryGetValue(path, out var ranges))
                {
                    for (int i = ranges.Count - 1; i >= 0; i--)
                    {
                        var (offset, before) = ranges[i];
                        int length = (int)Math.Clamp(flushed - offset, 0, before.Length);
                        if (length > 0)
                        {
                            await file.WriteAsync(before.AsMemory(0, length), offset);
                        }
                    }
                }
                if (file.Length > flushed)
                {
                    file.SetLength(flushed);
                }
                file.FlushToDisk();
            }
        }
    }

    public void CreateDirectory(string path)
    {
        ThrowIfCrashed();
        inner.CreateDirectory(path);
    }

    public IReadOnlyList<string> ListFiles(string directory)
    {
        ThrowIfCrashed();
        return inner.ListFiles(directory);
    }

    public IRandomAccessFile CreateNew(string path)
    {
        Enter(FaultPoint.CreateFile, path);
        var file = inner.CreateNew(path);
        Track(path, 0);
        return new FaultyFile(this, file);
    }

    public IRandomAccessFile Open(string path)
    {
        Enter(FaultPoint.OpenFile, path);
        var file = inner.Open(path);
        Track(path, file.Length);
        return new FaultyFile(this, file);
    }

    public void Delete(string path)
    {
        Enter(FaultPoint.Delete, path);
        inner.Delete(path);
        lock (_gate)
        {
            _flushedLengths.Remove(path);
            _overwritten.Remove(path);
        }
    }

    public void FlushDirectory(string directory)
    {
        Enter(FaultPoint.FlushDirectory, directory);
        inner.FlushDirectory(directory);
    }

    private void Arm(FaultPoint point, int skip, bool crash)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        lock (_gate)
        {
            _armed.Add(new ArmedFault(point, skip, crash));
        }
    }

    private void Track(string path, long flushedLength)
    {
        lock (_gate)
        {
            _flushedLengths[path] = flushedLength;
        }
    }

    private void ThrowIfCrashed()
    {
        lock (_gate)
        {
            if (_crashed)
            {
                throw new SimulatedCrashException();
            }
        }
    }

    /// <summary>Counts the operation and fires the first fault armed for it, if its turn has come.</summary>
    private void Enter(FaultPoint point, string path)
    {
        lock (_gate)
        {
            if (_crashed)
            {
                throw new SimulatedCrashException();
            }
            _counts[(int)point]++;
            for (int i = 0; i < _armed.Count; i++)
            {
                var fault = _armed[i];
                if (fault.Point != point)
                {
                    continue;
                }
                if (fault.Skip > 0)
                {
                    _armed[i] = fault with { Skip = fault.Skip - 1 };
                    return;
                }
                _armed.RemoveAt(i);
                if (fault.Crash)
                {
                    _crashed = true;
                    throw new SimulatedCrashException($"simulated crash at {point} of {path}");
                }
                throw new IOException($"simulated I/O error at {point} of {path}", EIo);
            }
        }
    }

    private async ValueTask WriteAsync(IRandomAccessFile file, ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken)
    {
        Enter(FaultPoint.Write, file.Path);
        int keep = data.Length;
        bool tear = false;
        bool full = false;
        long fileLength = file.Length;
        long flushed;
        lock (_gate)
        {
            if (_tearKeepBytes >= 0)
            {
                keep = Math.Min(keep, _tearKeepBytes);
                _tearKeepBytes = -1;
                tear = true;
            }
            if (_freeSpace is long free)
            {
                // The file grows to the end of the write (a hole before it counts too, as a file system allocates it).
                long fits = Math.Clamp(fileLength + free - offset, 0, keep);
                if (fits < keep)
                {
                    keep = (int)fits;
                    full = true;
                }
                _freeSpace = keep > 0 ? free - Math.Max(0, offset + keep - fileLength) : free;
            }
            flushed = _flushedLengths.GetValueOrDefault(file.Path);
        }
        if (keep > 0 && offset < flushed)
        {
            // Flushed bytes about to be overwritten: a power loss before the next flush brings them back.
            var before = new byte[(int)Math.Min(keep, flushed - offset)];
            int read = 0;
            while (read < before.Length)
            {
                int n = await file.ReadAsync(before.AsMemory(read), offset + read, cancellationToken);
                if (n == 0)
                {
                    break;
                }
                read += n;
            }
            lock (_gate)
            {
                if (!_overwritten.TryGetValue(file.Path, out var ranges))
                {
                    _overwritten[file.Path] = ranges = [];
                }
                ranges.Add((offset, before[..read]));
            }
        }
        if (keep > 0)
        {
            await file.WriteAsync(data[..keep], offset, cancellationToken);
        }
        ThrowIfCrashed(); // a crash while the write ran: its caller must not go on to flush it
        if (tear)
        {
            Crash();
            throw new SimulatedCrashException($"simulated crash: torn write of {file.Path} at offset {offset}, {keep} of {data.Length} bytes written");
        }
        if (full)
        {
            throw new IOException($"No space left on device (simulated) writing {file.Path} at offset {offset}: {keep} of {data.Length} bytes written", ENoSpc);
        }
    }

    private readonly record struct ArmedFault(FaultPoint Point, int Skip, bool Crash);

    private sealed class FaultyFile(FaultInjectingFileSystem owner, IRandomAccessFile file) : IRandomAccessFile
    {
        public string Path => file.Path;

        public long Length
        {
            get
            {
                owner.ThrowIfCrashed();
                return file.Length;
            }
        }

        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken = default)
        {
            owner.ThrowIfCrashed();
            return file.ReadAsync(buffer, offset, cancellationToken);
        }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken cancellationToken = default) =>
            owner.WriteAsync(file, data, offset, cancellationToken);

        public void FlushToDisk()
        {
            owner.Enter(FaultPoint.Flush, file.Path);
            file.FlushToDisk();
            long length = file.Length;
            lock (owner._gate)
            {
                // A crash (power loss) while the flush ran: the flush did not happen as far as the caller knows.
                if (owner._crashed)
                {
                    throw new SimulatedCrashException();
                }
                owner._flushedLengths[file.Path] = length;
                owner._overwritten.Remove(file.Path);
            }
        }

        public void SetLength(long length)
        {
            owner.Enter(FaultPoint.SetLength, file.Path);
            long before = file.Length;
            file.SetLength(length);
            lock (owner._gate)
            {
                if (owner._freeSpace is long free && length < before)
                {
                    owner._freeSpace = free + (before - length); // a cut gives its blocks back
                }
                if (owner._flushedLengths.TryGetValue(file.Path, out long flushed) && length < flushed)
                {
                    owner._flushedLengths[file.Path] = length;
                }
            }
        }

        public void Dispose() => file.Dispose();
    }
}
