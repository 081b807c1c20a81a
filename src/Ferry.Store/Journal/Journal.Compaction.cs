namespace Ferry.Store.Journal;

// Deleting and compacting segments. One pass at a time (_compactionGate), in the background after records die or
// holds are released, or on demand (CompactAsync).
//
// Order of a compaction of segment S, and what a crash at each point leaves:
//   1. read S's counted records and queue them to the writer as moved copies; the writer writes them to the tail and
//      flushes.                 Crash before the flush: the copies are a torn tail or absent; S is intact.
//   2. the copies become the primaries in the index.
//                               Crash now: both copies exist; recovery keeps one per position (identical contents)
//                               and tracks both, so S is compacted again later, copying nothing.
//   3. delete S and flush the directory.
//                               Crash before the directory flush: S may come back; as in 2.
//   4. only now forget S's copies: records left without one leave the index, and the cancels pointing at them stop
//      being live, so their segments can go in a later round. A cancel is therefore never deleted while the record
//      it cancels could still come back.
public sealed partial class Journal
{
    private async Task RunCompactionAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _compactionSignal.Reader.WaitToReadAsync(cancellationToken))
            {
                _compactionSignal.Reader.TryRead(out _);
                if (Volatile.Read(ref _failure) is not null)
                {
                    return;
                }
                await _compactionGate.WaitAsync(cancellationToken);
                try
                {
                    await CompactCoreAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && ex is not JournalFailedException)
                {
                    JournalLog.CompactionFailed(_logger, ex);
                }
                catch (JournalFailedException)
                {
                    return; // already logged by FailStop
                }
                finally
                {
                    _compactionGate.Release();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // closing
        }
    }

    private async Task CompactCoreAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var token = linked.Token;
        var passed = new HashSet<Segment>();
        while (true)
        {
            token.ThrowIfCancellationRequested();
            ThrowIfFailed();
            Segment? segment;
            List<StoredRecord> copy;
            lock (_gate)
            {
                segment = _segments.Find(s => !passed.Contains(s) && IsCandidate(s));
                if (segment is null)
                {
                    return;
                }
                passed.Add(segment);
                copy = CopySet(segment);
            }
            int moved = 0;
            long movedBytes = 0;
            for (int round = 0; copy.Count > 0 && round < 3; round++)
            {
                (int records, long bytes) = await MoveAsync(segment, copy, token);
                moved += records;
                movedBytes += bytes;
                lock (_gate)
                {
                    copy = CopySet(segment);
                }
            }
            if (copy.Count > 0)
            {
                JournalLog.CompactionIncomplete(_logger, segment.Path);
                continue;
            }
            if (moved > 0)
            {
                JournalLog.SegmentCompacted(_logger, segment.Path, moved, movedBytes);
            }
            TryDelete(segment);
        }
    }

    /// <summary>Copies the records to the tail through the writer, in chunks of at most MaxBatchBytes, each made durable.</summary>
    private async Task<(int Records, long Bytes)> MoveAsync(Segment segment, List<StoredRecord> records, CancellationToken cancellationToken)
    {
        var chunk = new List<MovedRecord>();
        long chunkBytes = 0;
        long total = 0;
        foreach (var record in records)
        {
            var payload = new byte[record.PayloadLength];
            await ReadExactlyAsync(segment.File, payload, record.Primary.PayloadOffset, cancellationToken);
            chunk.Add(new MovedRecord(record.Position, record.Type, record.Cancels, payload));
            chunkBytes += record.Size;
            if (chunkBytes >= _options.MaxBatchBytes)
            {
                await EnqueueAsync(new WriteRequest([.. chunk], chunkBytes), cancellationToken);
                total += chunkBytes;
                chunk.Clear();
                chunkBytes = 0;
            }
        }
        if (chunk.Count > 0)
        {
            await EnqueueAsync(new WriteRequest([.. chunk], chunkBytes), cancellationToken);
            total += chunkBytes;
        }
        return (records.Count, total);
    }

    /// <summary>Deletes a segment that has nothing live left, unless it became active or held meanwhile.</summary>
    private void TryDelete(Segment segment)
    {
        lock (_gate)
        {
            if (segment == _active || segment.Deleting || IsHeld(segment) || CopySet(segment).Count > 0)
            {
                return;
            }
            segment.Deleting = true;
        }
        try
        {
            CheckFence();
            _fileSystem.Delete(segment.Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) // a fenced-off journal's JournalFailedException too
        {
            lock (_gate)
            {
                segment.Deleting = false;
            }
            JournalLog.DeleteFailed(_logger, segment.Path, ex);
            return;
        }
        try
        {
            _fileSystem.FlushDirectory(_directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The deletion may or may not survive a crash. Its records must keep counting as stored (so no cancel of
            // them is deleted), and nothing more can be done safely: stop.
            var failure = new JournalFailedException(
                $"Flushing the journal directory {_directory} after deleting {segment.Path} failed ({ex.Message}); the journal has stopped. " +
                "Reopen it to recover.", ex);
            FailStop(failure);
            throw failure;
        }
        segment.File.Dispose();
        bool signal;
        lock (_gate)
        {
            RemoveSegment(segment);
            _segmentsDeleted++;
            signal = TakeCompactionWish();
        }
        JournalLog.SegmentDeleted(_logger, segment.Path);
        if (signal)
        {
            SignalCompaction();
        }
    }
}
