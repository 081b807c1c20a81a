using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;

namespace Ferry.Store.Journal;

// The writer loop: the only code that writes to the active segment.
//
// Group commit: appenders queue requests (a bounded channel; a full queue makes AppendAsync wait). The loop takes
// everything queued, up to MaxBatchBytes and never across a segment boundary, assigns positions in queue order,
// encodes the group into one buffer, writes it with one positional write and flushes once (SyncPolicy.Always, or
// always for compaction's moved records). Only then are the records indexed and their appends completed, so a
// completed append is durable and readable. While a flush runs the next group gathers in the queue.
//
// Failures:
//   - a write fails (e.g. disk full): the segment is cut back to where the group started and the cut flushed; the
//     group's appends fail, their positions are reused, and the journal keeps going;
//   - a flush fails, or a failed write cannot be undone: what is on disk is unknown (after a failed fsync the page
//     cache may have dropped the data), so the journal fail-stops: the group, everything queued and every later
//     append fail with JournalFailedException until it is reopened.
public sealed partial class Journal
{
    private async Task<long> EnqueueAsync(WriteRequest request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfFailed();
        try
        {
            await _queue.Writer.WriteAsync(request, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            ThrowIfFailed();
            throw new ObjectDisposedException(nameof(Journal), "The journal is closing");
        }
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var queued = (WriteRequest)state!;
                if (queued.TryCancel())
                {
                    queued.Completion.TrySetCanceled(token);
                }
            }, request)
            : default;
        return await request.Completion.Task;
    }

    private async Task RunWriterAsync()
    {
        var reader = _queue.Reader;
        var group = new List<WriteRequest>();
        WriteRequest? carry = null;
        WriteRequest? current = null; // taken, not yet in the group: must not be lost if the loop fails
        try
        {
            while (carry is not null || await WaitForAppendsAsync(reader))
            {
                ThrowIfFailed();
                group.Clear();
                long next = _nextPosition;
                long bytes = 0;
                // Flush when the group holds anything that must be durable before it completes.
                bool flush = false;
                while (true)
                {
                    var request = carry;
                    carry = null;
                    if (request is null)
                    {
                        if (!reader.TryRead(out request))
                        {
                            break;
                        }
                        if (!request.TryTake())
                        {
                            continue; // cancelled while queued
                        }
                    }
                    current = request;
                    if (request.Moves is null && !CheckCancels(request, next))
                    {
                        continue;
                    }
                    long size = request.EncodedSize;
                    if (group.Count > 0 && (bytes + size > _options.MaxBatchBytes || _active.Length + bytes + size > _options.SegmentSize))
                    {
                        carry = request;
                        break;
                    }
                    if (group.Count == 0 && _active.DataBytes > 0 && _active.Length + size > _options.SegmentSize && !await TryRollAsync(next, request))
                    {
                        continue;
                    }
                    if (request.Moves is null)
                    {
                        request.FirstPosition = next;
                        next += request.Count;
                        flush |= _options.SyncPolicy == JournalSyncPolicy.Always && !request.IsLazy;
                    }
                    else
                    {
                        flush = true; // the segment being compacted is deleted only once its copies are durable
                    }
                    group.Add(request);
                    current = null;
                    bytes += size;
                }
                if (group.Count > 0)
                {
                    await WriteGroupAsync(group, next, flush);
                }
            }
        }
        catch (Exception ex)
        {
            var failure = ex as JournalFailedException ?? new JournalFailedException($"The journal writer failed unexpectedly ({ex.Message}); the journal has stopped", ex);
            FailStop(failure);
            FailAll(group, failure);
            carry?.Completion.TrySetException(failure);
            current?.Completion.TrySetException(failure);
        }
        // After a fail-stop the queue is closed; fail whatever is still in it.
        while (reader.TryRead(out var left))
        {
            if (left.TryTake())
            {
                left.Completion.TrySetException(Volatile.Read(ref _failure) ?? (Exception)new ObjectDisposedException(nameof(Journal)));
            }
        }
    }

    /// <summary>
    /// Waits for queued appends. While lazy records are written but not flushed, waits at most until
    /// their flush is due, then flushes them, so they become durable within <see cref="JournalOptions.LazyFlushDelay"/>.
    /// </summary>
    private async ValueTask<bool> WaitForAppendsAsync(ChannelReader<WriteRequest> reader)
    {
        if (_unflushed is not { } segment)
        {
            return await reader.WaitToReadAsync();
        }
        // Due even while appends keep arriving: a steady stream of lazy appends must not postpone it forever.
        var due = _options.LazyFlushDelay - Stopwatch.GetElapsedTime(_unflushedAt);
        if (due <= TimeSpan.Zero)
        {
            FlushSegment(segment);
            return await reader.WaitToReadAsync();
        }
        var wait = reader.WaitToReadAsync();
        if (!wait.IsCompleted)
        {
            var waiting = wait.AsTask();
            if (await Task.WhenAny(waiting, _lazyFlushDue!) != waiting)
            {
                FlushSegment(segment);
            }
            wait = new ValueTask<bool>(waiting);
        }
        bool more = await wait;
        if (!more && _unflushed is { } last)
        {
            FlushSegment(last); // closing: what was written lazily is made durable before the files close
        }
        return more;
    }

    private static bool CheckCancels(WriteRequest request, long firstPosition)
    {
        for (int i = 0; i < request.Count; i++)
        {
            long cancels = request.EntryAt(i).Cancels;
            if (cancels >= firstPosition + i)
            {
                request.Completion.TrySetException(new ArgumentException(
                    $"An entry cancels position {cancels}, which is not before its own position {firstPosition + i}"));
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Runs <see cref="JournalOptions.WriteFence"/> before any change to the files (a write, a cut, a new or deleted
    /// segment): a master that lost its lock must not touch what the new master is appending to.
    /// </summary>
    private void CheckFence()
    {
        if (_options.WriteFence is { } fence)
        {
            try
            {
                fence();
            }
            catch (Exception ex) when (ex is not JournalFailedException)
            {
                throw new JournalFailedException($"The journal is fenced off and will not write: {ex.Message}", ex);
            }
        }
    }

    private async Task WriteGroupAsync(List<WriteRequest> group, long next, bool flush)
    {
        CheckFence();
        var segment = _active;
        long start = segment.Length;
        _writeBuffer.ResetWrittenCount();
        foreach (var request in group)
        {
            request.FileOffset = start + _writeBuffer.WrittenCount;
            Encode(request);
        }
        var data = _writeBuffer.WrittenMemory;
        try
        {
            await PreallocateAsync(segment, start + data.Length);
            await segment.File.WriteAsync(data, start);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            UndoWrite(segment, start, ex);
            JournalLog.WriteFailed(_logger, data.Length, segment.Path, start, ex);
            var error = new JournalException(
                $"Append failed: writing {data.Length} bytes to journal segment {segment.Path} at offset {start} failed ({ex.Message}). " +
                "Nothing of it was kept; records appended before are intact.", ex);
            FailAll(group, error);
            return;
        }
        if (flush)
        {
            FlushSegment(segment);
        }
        else if (_options.SyncPolicy == JournalSyncPolicy.Always && _unflushed is null)
        {
            _unflushed = segment;
            _unflushedAt = Stopwatch.GetTimestamp();
            _lazyFlushDue = Task.Delay(_options.LazyFlushDelay); // one timer per unflushed stretch, not per wake-up
        }
        bool signal;
        lock (_gate)
        {
            segment.Length = start + data.Length;
            foreach (var request in group)
            {
                Index(request, segment);
            }
            _batches++;
            _bytesWritten += data.Length;
            signal = TakeCompactionWish();
        }
        _nextPosition = next;
        Volatile.Write(ref _lastPosition, next - 1);
        foreach (var request in group)
        {
            request.Completion.TrySetResult(request.FirstPosition);
        }
        if (signal)
        {
            SignalCompaction();
        }
        if (_writeBuffer.Capacity > 2L * _options.MaxBatchBytes)
        {
            _writeBuffer = new ArrayBufferWriter<byte>(); // do not keep a huge record's buffer forever
        }
    }

    /// <summary>
    /// Zero-fills the active segment ahead of a write that would grow it past what is allocated, up to
    /// <see cref="JournalOptions.PreallocationBytes"/> beyond the write and never past the segment size. The zeros
    /// reach the disk with the next flush; from then on a flush there writes data only. Recovery reads zeros after
    /// the last record of the last segment as its end.
    /// </summary>
    private async ValueTask PreallocateAsync(Segment segment, long end)
    {
        if (end <= segment.Allocated)
        {
            return;
        }
        long target = Math.Min(end + _options.PreallocationBytes, _options.SegmentSize);
        if (target <= end || segment.PreallocationRefused || _options.SyncPolicy == JournalSyncPolicy.Never)
        {
            segment.Allocated = end; // the write itself grows the file
            return;
        }
        try
        {
            for (long offset = end; offset < target; offset += ZeroBlock.Length)
            {
                await segment.File.WriteAsync(ZeroBlock.AsMemory(0, (int)Math.Min(ZeroBlock.Length, target - offset)), offset);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a nearly full disk needs the room for the records themselves (acks among them, which
            // let compaction free space). Give back what the zeros took and append without them in this segment.
            segment.File.SetLength(segment.Allocated);
            segment.PreallocationRefused = true;
            JournalLog.PreallocationFailed(_logger, segment.Path, target - end, ex);
            return;
        }
        segment.Allocated = target;
    }

    private static readonly byte[] ZeroBlock = new byte[256 * 1024];

    private void Encode(WriteRequest request)
    {
        if (request.Moves is { } moves)
        {
            foreach (var moved in moves)
            {
                var span = _writeBuffer.GetSpan((int)RecordFormat.EntryRecordSize(moved.Payload.Length));
                _writeBuffer.Advance(RecordFormat.WriteEntry(span, RecordFormat.KindMoved, moved.Position, moved.Type, moved.Cancels, moved.Payload.Span));
            }
        }
        else if (request.Batch is { } batch)
        {
            var span = _writeBuffer.GetSpan((int)request.EncodedSize);
            _writeBuffer.Advance(RecordFormat.WriteBatch(span, request.FirstPosition, batch));
        }
        else
        {
            var entry = request.Entry;
            var span = _writeBuffer.GetSpan((int)request.EncodedSize);
            _writeBuffer.Advance(RecordFormat.WriteEntry(span, RecordFormat.KindEntry, request.FirstPosition, entry.Type, entry.Cancels, entry.Payload.Span));
        }
    }

    /// <summary>Adds a written request's records to the index (under <c>_gate</c>).</summary>
    private void Index(WriteRequest request, Segment segment)
    {
        if (request.Moves is { } moves)
        {
            long offset = request.FileOffset;
            foreach (var moved in moves)
            {
                MoveRecord(moved.Position, new Location(segment, offset + RecordFormat.EntryPayloadOffset));
                offset += RecordFormat.EntryRecordSize(moved.Payload.Length);
            }
            _recordsCompacted += moves.Length;
        }
        else if (request.Batch is { } batch)
        {
            long offset = request.FileOffset + RecordFormat.RecordHeaderSize + RecordFormat.BatchFixedSize;
            for (int i = 0; i < batch.Length; i++)
            {
                var entry = batch[i];
                offset += RecordFormat.BatchItemFixedSize;
                AddRecord(request.FirstPosition + i, entry.Type, entry.Cancels, entry.Payload.Length, new Location(segment, offset));
                offset += entry.Payload.Length;
            }
            _appends += batch.Length;
        }
        else
        {
            var entry = request.Entry;
            AddRecord(request.FirstPosition, entry.Type, entry.Cancels, entry.Payload.Length,
                new Location(segment, request.FileOffset + RecordFormat.EntryPayloadOffset));
            _appends++;
        }
    }

    /// <summary>
    /// Starts the next segment: the active one is cut to its last record and flushed first (whatever the sync policy),
    /// so only the last segment can ever end in a torn write or in preallocated zeros. A failure to create the new segment fails <paramref name="request"/> and leaves
    /// the active segment as it was.
    /// </summary>
    private async Task<bool> TryRollAsync(long basePosition, WriteRequest request)
    {
        var old = _active;
        CheckFence(); // a stale master must neither cut the segment the new master appends to nor start one
        Segment segment;
        try
        {
            if (old.Allocated > old.Length)
            {
                // Recovery reads zeros after the last record as the end only in the last segment; anywhere else they
                // would be damage. The cut is flushed with the data, before the next segment exists.
                old.File.SetLength(old.Length);
                old.Allocated = old.Length;
            }
            FlushSegment(old);
            segment = await CreateSegmentAsync(old.Id + 1, basePosition, CancellationToken.None);
        }
        catch (Exception ex) when (ex is (IOException and not JournalFailedException) or UnauthorizedAccessException)
        {
            string path = Path.Combine(_directory, RecordFormat.FileName(old.Id + 1));
            JournalLog.RollFailed(_logger, path, ex);
            request.Completion.TrySetException(new JournalException($"Append failed: could not start journal segment {path} ({ex.Message}); records appended before are intact.", ex));
            return false;
        }
        bool signal;
        lock (_gate)
        {
            _segments.Add(segment);
            _active = segment;
            signal = IsCandidate(old);
        }
        JournalLog.SegmentStarted(_logger, segment.Path, basePosition);
        if (signal)
        {
            SignalCompaction();
        }
        return true;
    }

    private void FlushSegment(Segment segment)
    {
        try
        {
            segment.File.FlushToDisk();
            if (ReferenceEquals(segment, _unflushed))
            {
                _unflushed = null;
                _lazyFlushDue = null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            throw new JournalFailedException(
                $"Flushing journal segment {segment.Path} to disk failed ({ex.Message}); whether the last writes reached the disk is unknown, " +
                "so the journal has stopped. Reopen it to recover what is durable.", ex);
        }
        lock (_gate)
        {
            _flushes++;
        }
    }

    /// <summary>Cuts a failed write off, durably, so that nothing of it can surface after a crash.</summary>
    private void UndoWrite(Segment segment, long start, Exception cause)
    {
        try
        {
            segment.File.SetLength(start);
            segment.Allocated = start;
            segment.File.FlushToDisk();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new JournalFailedException(
                $"Writing to journal segment {segment.Path} at offset {start} failed ({cause.Message}) and cutting the partial write off failed too " +
                $"({ex.Message}); the journal has stopped. Reopen it to recover what is durable.", ex);
        }
        lock (_gate)
        {
            _flushes++;
        }
    }

    /// <summary>Stops the journal for good (idempotent): closes the queue; the writer fails what is left in it.</summary>
    private void FailStop(JournalFailedException failure)
    {
        lock (_gate)
        {
            if (_failure is not null)
            {
                return;
            }
            Volatile.Write(ref _failure, failure);
        }
        JournalLog.FailStopped(_logger, _directory, failure.Message, failure.InnerException ?? failure);
        _queue.Writer.TryComplete();
        SignalCompaction();
    }

    private static void FailAll(List<WriteRequest> group, Exception error)
    {
        foreach (var request in group)
        {
            request.Completion.TrySetException(error);
        }
    }

    /// <summary>A copy of a live record that compaction moves to the tail.</summary>
    internal readonly record struct MovedRecord(long Position, byte Type, long Cancels, ReadOnlyMemory<byte> Payload);

    /// <summary>One queued write: a single entry, an atomic batch, or compaction's moved records.</summary>
    private sealed class WriteRequest
    {
        private const int Queued = 0;
        private const int Taken = 1;
        private const int Cancelled = 2;
        private int _state;

        public WriteRequest(JournalEntry entry, long encodedSize)
        {
            Entry = entry;
            EncodedSize = encodedSize;
            Count = 1;
        }

        public WriteRequest(JournalEntry[] batch, long encodedSize)
        {
            Batch = batch;
            EncodedSize = encodedSize;
            Count = batch.Length;
        }

        public WriteRequest(MovedRecord[] moves, long encodedSize)
        {
            Moves = moves;
            EncodedSize = encodedSize;
            Count = moves.Length;
        }

        public JournalEntry Entry { get; }

        public JournalEntry[]? Batch { get; }

        /// <summary>Every entry of the request may complete without a flush of its own.</summary>
        public bool IsLazy => Batch is null ? Entry.Lazy : Array.TrueForAll(Batch, static e => e.Lazy);

        public MovedRecord[]? Moves { get; }

        public long EncodedSize { get; }

        public int Count { get; }

        /// <summary>Assigned by the writer (appends only).</summary>
        public long FirstPosition { get; set; }

        /// <summary>Where the request's first record starts in the segment.</summary>
        public long FileOffset { get; set; }

        public TaskCompletionSource<long> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public JournalEntry EntryAt(int index) => Batch is null ? Entry : Batch[index];

        /// <summary>The writer takes it: from now on it is written (or fails) and cannot be cancelled.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

        public bool TryCancel() => Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued;
    }
}
