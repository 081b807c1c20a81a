using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Ferry.Store.IO;
using Microsoft.Extensions.Logging;

namespace Ferry.Store.Journal;

/// <summary>
/// An append-only, replicable log of opaque records in segment files (format: RecordFormat.cs).
/// </summary>
/// <remarks>
/// <para>Split by duty: this file (public API, lifetime), <c>Journal.Recovery.cs</c> (open: scan, validate, cut a torn
/// tail), <c>Journal.Writer.cs</c> (the single writer loop: group commit, segment roll, fail-stop),
/// <c>Journal.Liveness.cs</c> (which records are live, holds) and <c>Journal.Compaction.cs</c> (deleting and compacting
/// segments).</para>
/// <para>Threads: appenders only queue requests; one writer loop (an async task, not a thread) writes them to the
/// active segment, flushes once per batch and completes them. One compaction loop runs at a time. The in-memory index
/// (records, segments, holds) is guarded by <c>_gate</c>, which is never held across I/O or an await.</para>
/// <para>Liveness: a record is live until <see cref="MarkDead"/> is called for it, except a record appended with
/// <see cref="JournalEntry.Cancels"/> = p, which is live exactly while the record at p is still stored somewhere
/// (deleting it earlier would resurrect p on recovery); MarkDead is ignored for such records. A segment that is not
/// the active one, holds nothing live and is not covered by a <see cref="Hold"/> is deleted; one whose live bytes fall
/// below <see cref="JournalOptions.CompactionThreshold"/> first has its live records copied to the tail (same
/// position, type and cancels), flushed, and only then is deleted.</para>
/// </remarks>
public sealed partial class Journal : IAsyncDisposable
{
    private readonly JournalOptions _options;
    private readonly IFileSystem _fileSystem;
    private readonly ILogger _logger;
    private readonly string _directory;
    private readonly Lock _gate = new();

    // Index, guarded by _gate.
    private readonly Dictionary<long, StoredRecord> _records = [];
    private readonly List<Segment> _segments = [];
    private readonly List<HoldHandle> _holds = [];
    private readonly Stack<(StoredRecord Record, bool Always)> _touchWork = new();
    private Segment _active = null!;
    private bool _compactionWanted;

    // Statistics, guarded by _gate.
    private long _appends;
    private long _batches;
    private long _flushes;
    private long _bytesWritten;
    private long _segmentsDeleted;
    private long _recordsCompacted;

    // Writer state: only the writer loop touches these (and recovery, before it starts).
    private readonly Channel<WriteRequest> _queue;
    private ArrayBufferWriter<byte> _writeBuffer = new();
    private long _nextPosition = 1;
    private Segment? _unflushed; // holds lazy records not yet flushed, since _unflushedAt
    private long _unflushedAt;
    private Task? _lazyFlushDue;

    private readonly Channel<bool> _compactionSignal = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly SemaphoreSlim _compactionGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();

    private long _lastPosition;
    private JournalFailedException? _failure;
    private IReadOnlyList<JournalRecord> _recovered = [];
    private Task _writerTask = Task.CompletedTask;
    private Task _compactionTask = Task.CompletedTask;
    private int _disposed;

    private Journal(JournalOptions options, IFileSystem fileSystem, ILogger logger)
    {
        _options = options;
        _fileSystem = fileSystem;
        _logger = logger;
        _directory = Path.GetFullPath(options.Directory);
        _queue = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(options.MaxQueuedAppends)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>
    /// Opens (or creates) the journal in <see cref="JournalOptions.Directory"/>: scans every segment, validates every
    /// record, cuts a torn tail off the last segment (logging a warning with the offset) and fails with
    /// <see cref="JournalCorruptException"/> if any other segment is damaged.
    /// </summary>
    public static async Task<Journal> OpenAsync(JournalOptions options, IFileSystem fileSystem, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        var journal = new Journal(options, fileSystem, logger);
        try
        {
            await journal.RecoverAsync(cancellationToken);
        }
        catch
        {
            journal.CloseFiles();
            throw;
        }
        journal.Start();
        return journal;
    }

    /// <summary>
    /// Every record found at open, in position order, one per position (a compaction interrupted by a crash can leave
    /// two identical copies). All start live; the owner calls <see cref="MarkDead"/> for those it no longer needs while
    /// rebuilding its state. Payloads point into the bytes read at open; call <see cref="ReleaseRecovered"/> when done.
    /// </summary>
    public IReadOnlyList<JournalRecord> Recovered => Volatile.Read(ref _recovered);

    /// <summary>Drops the reference to the records read at open, so their memory can be reclaimed.</summary>
    public void ReleaseRecovered() => Volatile.Write(ref _recovered, []);

    /// <summary>The highest position assigned to a durable record (0 if none ever was).</summary>
    public long LastPosition => Volatile.Read(ref _lastPosition);

    public JournalStats Stats
    {
        get
        {
            lock (_gate)
            {
                long stored = 0;
                foreach (var segment in _segments)
                {
                    stored += segment.Length;
                }
                return new JournalStats(_appends, _batches, _flushes, _bytesWritten, _segments.Count, _segmentsDeleted, _recordsCompacted, stored);
            }
        }
    }

    /// <summary>
    /// Appends one record and returns its position once it is durable (flushed, with <see cref="JournalSyncPolicy.Always"/>).
    /// Cancellation is honoured until the writer takes the record; after that the call completes with the write's outcome.
    /// Fails with <see cref="JournalException"/> if the write failed (e.g. disk full; nothing of it is kept) and with
    /// <see cref="JournalFailedException"/> once the journal has stopped.
    /// </summary>
    public ValueTask<long> AppendAsync(JournalEntry entry, CancellationToken cancellationToken = default)
    {
        CheckEntry(entry);
        long size = RecordFormat.EntryRecordSize(entry.Payload.Length);
        CheckRecordSize(size);
        return new ValueTask<long>(EnqueueAsync(new WriteRequest(entry, size), cancellationToken));
    }

    /// <summary>
    /// Appends several records atomically, as one physical record: after a crash either all of them or none are found.
    /// Their positions are consecutive; an entry may cancel an earlier entry of the same batch.
    /// </summary>
    public async ValueTask<long[]> AppendBatchAsync(IReadOnlyList<JournalEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return [];
        }
        var copy = entries.ToArray();
        foreach (var entry in copy)
        {
            CheckEntry(entry);
        }
        long size = RecordFormat.BatchRecordSize(copy);
        CheckRecordSize(size);
        long first = await EnqueueAsync(new WriteRequest(copy, size), cancellationToken);
        var positions = new long[copy.Length];
        for (int i = 0; i < positions.Length; i++)
        {
            positions[i] = first + i;
        }
        return positions;
    }

    /// <summary>The owner no longer needs the record at <paramref name="position"/>. Unknown positions and cancelling records are ignored.</summary>
    public void MarkDead(long position)
    {
        bool signal;
        lock (_gate)
        {
            if (!_records.TryGetValue(position, out var record) || record.Cancels >= 0 || record.Dead)
            {
                return;
            }
            record.Dead = true;
            Touch(record, always: false);
            signal = TakeCompactionWish();
        }
        if (signal)
        {
            SignalCompaction();
        }
    }

    /// <summary>
    /// Keeps every record with a position of at least <paramref name="fromPosition"/> readable: no segment holding one
    /// is compacted or deleted until the returned handle is disposed (a replica catching up, for instance).
    /// </summary>
    public IDisposable Hold(long fromPosition)
    {
        var hold = new HoldHandle(this, fromPosition);
        lock (_gate)
        {
            _holds.Add(hold);
        }
        return hold;
    }

    /// <summary>
    /// The records stored when the call starts with a position of at least <paramref name="fromPosition"/>, in position
    /// order, each once (dead ones too, until their segment goes). The segments read are held until the enumeration ends.
    /// </summary>
    public async IAsyncEnumerable<JournalRecord> ReadAsync(long fromPosition, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using var hold = Hold(fromPosition);
        var snapshot = new List<(long Position, byte Type, long Cancels, int Length, Location Location)>();
        lock (_gate)
        {
            foreach (var record in _records.Values)
            {
                if (record.Position >= fromPosition && ReadableCopy(record) is Location location)
                {
                    snapshot.Add((record.Position, record.Type, record.Cancels, record.PayloadLength, location));
                }
            }
        }
        snapshot.Sort(static (a, b) => a.Position.CompareTo(b.Position));
        foreach (var item in snapshot)
        {
            var payload = new byte[item.Length];
            await ReadExactlyAsync(item.Location.Segment.File, payload, item.Location.PayloadOffset, cancellationToken);
            yield return new JournalRecord(item.Position, item.Type, payload, item.Cancels);
        }
    }

    /// <summary>
    /// Deletes segments with nothing live and compacts mostly-dead ones now (this also runs in the background after
    /// records die). Never runs concurrently with itself; segments covered by a hold are left alone.
    /// </summary>
    public async Task CompactAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ThrowIfFailed();
        await _compactionGate.WaitAsync(cancellationToken);
        try
        {
            await CompactCoreAsync(cancellationToken);
        }
        finally
        {
            _compactionGate.Release();
        }
    }

    /// <summary>
    /// Stops background compaction, lets the writer finish what is queued (those appends complete normally), then
    /// closes the files. Appends made after disposal starts fail with <see cref="ObjectDisposedException"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync();
        _compactionSignal.Writer.TryComplete();
        try
        {
            await _compactionTask;
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
        await _compactionGate.WaitAsync(CancellationToken.None);
        _queue.Writer.TryComplete();
        await _writerTask;
        if (Volatile.Read(ref _failure) is null)
        {
            TrimActive();
        }
        CloseFiles();
        _compactionGate.Dispose();
        _stopping.Dispose();
    }

    private void Start()
    {
        _writerTask = Task.Run(RunWriterAsync);
        _compactionTask = Task.Run(() => RunCompactionAsync(_stopping.Token));
        SignalCompaction();
    }

    /// <summary>
    /// Cuts the active segment's preallocated zeros after the writer stopped, so a closed journal's files end at their
    /// last record. Keeping them is harmless (recovery reads them as the end), so a failure is only logged.
    /// </summary>
    private void TrimActive()
    {
        var segment = _active;
        if (segment.Allocated <= segment.Length)
        {
            return;
        }
        try
        {
            CheckFence(); // a master that lost its lock leaves the file to the new one
            if (segment.File.Length <= segment.Length)
            {
                return;
            }
            segment.File.SetLength(segment.Length);
            segment.File.FlushToDisk();
            segment.Allocated = segment.Length;
        }
        catch (JournalFailedException)
        {
            // fenced off: not this journal's file any more
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            JournalLog.TrimFailed(_logger, segment.Path, ex);
        }
    }

    private void CloseFiles()
    {
        lock (_gate)
        {
            foreach (var segment in _segments)
            {
                segment.File.Dispose();
            }
        }
    }

    private void CheckEntry(JournalEntry entry)
    {
        if (entry.Cancels < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(entry), entry.Cancels, "Cancels is the position of an earlier record, or -1 for none");
        }
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
    }

    private void CheckRecordSize(long size)
    {
        if (size > _options.MaxRecordSize)
        {
            throw new ArgumentException($"The record would take {size} bytes, more than the journal's limit of {_options.MaxRecordSize} bytes (MaxRecordSize)");
        }
    }

    private void ThrowIfFailed()
    {
        var failure = Volatile.Read(ref _failure);
        if (failure is not null)
        {
            throw new JournalFailedException(failure.Message, failure);
        }
    }

    private static async ValueTask ReadExactlyAsync(IRandomAccessFile file, Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int read = await file.ReadAsync(buffer[done..], offset + done, cancellationToken);
            if (read == 0)
            {
                throw new JournalException($"Journal segment {file.Path} ended at offset {offset + done}, before the record being read ({buffer.Length} bytes at {offset})");
            }
            done += read;
        }
    }

    private sealed class HoldHandle(Journal journal, long fromPosition) : IDisposable
    {
        private int _released;

        public long FromPosition { get; } = fromPosition;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                journal.Release(this);
            }
        }
    }
}
