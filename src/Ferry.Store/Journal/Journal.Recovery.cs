using Ferry.Store.IO;

namespace Ferry.Store.Journal;

public sealed partial class Journal
{
    /// <summary>
    /// Scans every segment in id order, validating each record. The last segment may end in zeros (preallocated, kept)
    /// or in a torn tail (a batch being written when the process died, never acknowledged): that is cut off and the cut flushed. Damage anywhere else
    /// means acknowledged data is unreadable, so opening fails. Runs before the writer starts.
    /// </summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        _fileSystem.CreateDirectory(_directory);
        var files = new List<(long Id, string Path)>();
        foreach (string path in _fileSystem.ListFiles(_directory))
        {
            if (RecordFormat.TryParseFileName(Path.GetFileName(path), out long id))
            {
                files.Add((id, path));
            }
        }
        files.Sort(static (a, b) => a.Id.CompareTo(b.Id));

        var found = new List<(ParsedEntry Entry, Segment Segment, ReadOnlyMemory<byte> Payload)>();
        var parsed = new List<ParsedEntry>();
        long maxBase = 1;
        Segment? headerless = null;
        for (int i = 0; i < files.Count; i++)
        {
            var (id, path) = files[i];
            bool last = i == files.Count - 1;
            var file = _fileSystem.Open(path);
            try
            {
                long length = file.Length;
                if (length > int.MaxValue)
                {
                    throw new JournalCorruptException(path, 0, $"the file is {length} bytes, larger than any segment this journal writes");
                }
                var bytes = new byte[length];
                await ReadExactlyAsync(file, bytes, 0, cancellationToken);
                var segment = new Segment(id, path, file, 0);
                string? headerError = RecordFormat.ValidateSegmentHeader(bytes, id, out long basePosition);
                if (headerError is not null)
                {
                    // Only a segment still being created when the process died has no valid header; it holds no records
                    // (records are written only after the header is flushed), so it is started afresh below.
                    if (!last || length > RecordFormat.SegmentHeaderSize)
                    {
                        throw new JournalCorruptException(path, 0, headerError);
                    }
                    JournalLog.IncompleteHeader(_logger, path, headerError);
                    headerless = segment;
                }
                else
                {
                    segment.BasePosition = basePosition;
                    maxBase = Math.Max(maxBase, basePosition);
                    parsed.Clear();
                    int offset = RecordFormat.SegmentHeaderSize;
                    long allocated = length;
                    while (offset < bytes.Length)
                    {
                        int size = RecordFormat.TryParseRecord(bytes, offset, parsed, out string? error);
                        if (size == 0)
                        {
                            if (last && bytes.AsSpan(offset).IndexOfAnyExcept((byte)0) < 0)
                            {
                                JournalLog.PreallocatedTail(_logger, path, offset, bytes.Length - offset);
                                break; // preallocated and never written: the end, not a tear
                            }
                            if (!last)
                            {
                                throw new JournalCorruptException(path, offset, error!);
                            }
                            JournalLog.TornTail(_logger, path, offset, bytes.Length - offset, error!);
                            file.SetLength(offset);
                            file.FlushToDisk();
                            allocated = offset;
                            break;
                        }
                        offset += size;
                    }
                    segment.Length = offset;
                    segment.Allocated = allocated;
                    foreach (var entry in parsed)
                    {
                        found.Add((entry, segment, bytes.AsMemory(entry.PayloadOffset, entry.PayloadLength)));
                    }
                }
                _segments.Add(segment);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }

        // One record per position; a duplicate (the original and its moved copy) must be identical. The copy found
        // last (the moved one, in a later segment or further on) becomes the primary.
        found.Sort(static (a, b) => a.Entry.Position != b.Entry.Position
            ? a.Entry.Position.CompareTo(b.Entry.Position)
            : a.Segment.Id != b.Segment.Id ? a.Segment.Id.CompareTo(b.Segment.Id) : a.Entry.PayloadOffset.CompareTo(b.Entry.PayloadOffset));
        var recovered = new List<JournalRecord>(found.Count);
        long maxPosition = 0;
        foreach (var (entry, segment, payload) in found)
        {
            var location = new Location(segment, entry.PayloadOffset);
            segment.Add(entry.Position);
            if (_records.TryGetValue(entry.Position, out var existing))
            {
                if (existing.Type != entry.Type || existing.Cancels != entry.Cancels || !recovered[^1].Payload.Span.SequenceEqual(payload.Span))
                {
                    throw new JournalCorruptException(segment.Path, entry.PayloadOffset,
                        $"position {entry.Position} is stored twice with different contents (also in {existing.Primary.Segment.Path})");
                }
                (existing.Copies ??= []).Add(existing.Primary);
                existing.Primary = location;
                continue;
            }
            var record = new StoredRecord(entry.Position, entry.Type, entry.Cancels, entry.PayloadLength, location);
            Link(record);
            _records.Add(record.Position, record);
            recovered.Add(new JournalRecord(entry.Position, entry.Type, payload, entry.Cancels));
            maxPosition = entry.Position;
        }

        _nextPosition = Math.Max(maxPosition + 1, maxBase);
        Volatile.Write(ref _lastPosition, _nextPosition - 1);

        if (headerless is not null)
        {
            await InitializeSegmentAsync(headerless.File, headerless.Id, _nextPosition, cancellationToken);
            _fileSystem.FlushDirectory(_directory);
            headerless.BasePosition = _nextPosition;
            headerless.Length = RecordFormat.SegmentHeaderSize;
        }
        if (_segments.Count == 0)
        {
            _segments.Add(await CreateSegmentAsync(1, _nextPosition, cancellationToken));
        }
        _active = _segments[^1];

        lock (_gate)
        {
            foreach (var record in recovered)
            {
                Touch(_records[record.Position], always: false);
            }
            _compactionWanted = false;
        }
        Volatile.Write(ref _recovered, recovered);
        JournalLog.Opened(_logger, _directory, _segments.Count, recovered.Count, LastPosition);
    }

    /// <summary>
    /// Creates a segment file, writes its header and makes both the header and the directory entry durable, so that a
    /// segment either does not exist after a crash or has a valid header (or is empty, see recovery). On failure the
    /// partial file is removed; if even that fails the journal cannot know its state and stops.
    /// </summary>
    private async Task<Segment> CreateSegmentAsync(long id, long basePosition, CancellationToken cancellationToken)
    {
        string path = Path.Combine(_directory, RecordFormat.FileName(id));
        var file = _fileSystem.CreateNew(path);
        try
        {
            await InitializeSegmentAsync(file, id, basePosition, cancellationToken);
            _fileSystem.FlushDirectory(_directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            file.Dispose();
            try
            {
                _fileSystem.Delete(path);
                _fileSystem.FlushDirectory(_directory);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                throw new JournalFailedException(
                    $"Could not create journal segment {path} ({ex.Message}) nor remove the partial file ({cleanup.Message}); the directory's state is unknown",
                    cleanup);
            }
            throw;
        }
        lock (_gate)
        {
            _bytesWritten += RecordFormat.SegmentHeaderSize;
            _flushes++;
        }
        return new Segment(id, path, file, basePosition);
    }

    private static async Task InitializeSegmentAsync(IRandomAccessFile file, long id, long basePosition, CancellationToken cancellationToken)
    {
        var header = new byte[RecordFormat.SegmentHeaderSize];
        RecordFormat.WriteSegmentHeader(header, id, basePosition);
        file.SetLength(0);
        await file.WriteAsync(header, 0, cancellationToken);
        file.FlushToDisk();
    }
}
