namespace Ferry.Store.Journal;

// Which records are live, per segment, and what holds segments back. Everything here runs under _gate.
//
// A record is "counted" in the segment of its primary copy when compaction would have to copy it before that
// segment can go:
//   - an ordinary record: until MarkDead;
//   - a record cancelling p: while p is counted (p will be copied, so the cancel must follow it), or while p, though
//     dead, still has a copy in some other segment (deleting the cancel first would resurrect p on recovery).
//     A dead p stored only in the cancel's own segment vanishes with it, so the cancel need not be copied.
// A segment whose counted records are all gone is deleted; records stay in the index (and count as stored for the
// rule above) until the deletion of their last copy is durable.
public sealed partial class Journal
{
    /// <summary>Connects a new record to the record it cancels, if that one is still stored.</summary>
    private void Link(StoredRecord record)
    {
        if (record.Cancels >= 0 && _records.TryGetValue(record.Cancels, out var target))
        {
            record.Target = target;
            (target.CancelledBy ??= []).Add(record);
        }
    }

    /// <summary>Adds a record just made durable by the writer.</summary>
    private void AddRecord(long position, byte type, long cancels, int payloadLength, Location location)
    {
        var record = new StoredRecord(position, type, cancels, payloadLength, location);
        location.Segment.Add(position);
        Link(record);
        _records.Add(position, record);
        Touch(record, always: false);
    }

    /// <summary>Makes <paramref name="location"/> (a moved copy just made durable) the record's primary copy.</summary>
    private void MoveRecord(long position, Location location)
    {
        if (!_records.TryGetValue(position, out var record))
        {
            return;
        }
        location.Segment.Add(position);
        if (record.Counted)
        {
            Account(record, -1);
        }
        (record.Copies ??= []).Add(record.Primary);
        record.Primary = location;
        if (record.Counted)
        {
            Account(record, +1);
        }
        Touch(record, always: true);
    }

    private bool IsCounted(StoredRecord record)
    {
        if (record.Removed)
        {
            return false;
        }
        if (record.Cancels < 0)
        {
            return !record.Dead;
        }
        var target = record.Target;
        return target is not null && (target.Counted || target.IsStoredOutside(record.Primary.Segment));
    }

    /// <summary>
    /// Re-evaluates a record whose state or copies changed, and then the records cancelling it (whose liveness depends
    /// on it) as far as anything changes. <paramref name="always"/>: its copies changed, so look at its cancellers
    /// even if its own count did not change.
    /// </summary>
    private void Touch(StoredRecord first, bool always)
    {
        _touchWork.Push((first, always));
        while (_touchWork.TryPop(out var item))
        {
            var record = item.Record;
            bool counted = IsCounted(record);
            bool changed = counted != record.Counted;
            if (changed)
            {
                Account(record, counted ? +1 : -1);
                record.Counted = counted;
            }
            if ((changed || item.Always) && record.CancelledBy is { } cancellers)
            {
                foreach (var canceller in cancellers)
                {
                    _touchWork.Push((canceller, false));
                }
            }
        }
    }

    private void Account(StoredRecord record, int sign)
    {
        var segment = record.Primary.Segment;
        segment.LiveBytes += sign * record.Size;
        segment.LiveCount += sign;
        if (sign < 0 && IsCandidate(segment))
        {
            _compactionWanted = true;
        }
    }

    /// <summary>
    /// Forgets the copies in a segment whose deletion is now durable. Records left without a copy leave the index,
    /// and the records cancelling them stop being live.
    /// </summary>
    private void RemoveSegment(Segment segment)
    {
        _segments.Remove(segment);
        foreach (long position in segment.Positions)
        {
            if (!_records.TryGetValue(position, out var record))
            {
                continue;
            }
            record.Copies?.RemoveAll(copy => copy.Segment == segment);
            if (record.Primary.Segment != segment)
            {
                Touch(record, always: true);
                continue;
            }
            if (record.Counted)
            {
                Account(record, -1);
                record.Counted = false;
            }
            if (record.Copies is { Count: > 0 } copies)
            {
                record.Primary = copies[^1];
                copies.RemoveAt(copies.Count - 1);
                Touch(record, always: true);
                continue;
            }
            _records.Remove(position);
            record.Removed = true;
            record.Target?.CancelledBy?.Remove(record);
            record.Target = null;
            if (record.CancelledBy is { } cancellers)
            {
                record.CancelledBy = null;
                foreach (var canceller in cancellers)
                {
                    canceller.Target = null;
                    Touch(canceller, always: false);
                }
            }
        }
        segment.Positions.Clear();
    }

    /// <summary>The copy a reader may use: the primary unless its segment is being deleted.</summary>
    private static Location? ReadableCopy(StoredRecord record)
    {
        if (!record.Primary.Segment.Deleting)
        {
            return record.Primary;
        }
        if (record.Copies is not null)
        {
            foreach (var copy in record.Copies)
            {
                if (!copy.Segment.Deleting)
                {
                    return copy;
                }
            }
        }
        return null;
    }

    private bool IsHeld(Segment segment)
    {
        if (segment.Positions.Count == 0)
        {
            return false;
        }
        foreach (var hold in _holds)
        {
            if (segment.MaxPosition >= hold.FromPosition)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Not active, not held, and with nothing live or with live bytes below the threshold.</summary>
    private bool IsCandidate(Segment segment) =>
        segment != _active
        && !segment.Deleting
        && (segment.LiveCount == 0 || segment.LiveBytes < _options.CompactionThreshold * segment.DataBytes)
        && !IsHeld(segment);

    /// <summary>The records compaction must copy out of <paramref name="segment"/>, in file order.</summary>
    private List<StoredRecord> CopySet(Segment segment)
    {
        var copy = new List<StoredRecord>(segment.LiveCount);
        if (segment.LiveCount == 0)
        {
            return copy;
        }
        var seen = new HashSet<long>();
        foreach (long position in segment.Positions)
        {
            if (_records.TryGetValue(position, out var record) && record.Counted && record.Primary.Segment == segment && seen.Add(position))
            {
                copy.Add(record);
            }
        }
        copy.Sort(static (a, b) => a.Primary.PayloadOffset.CompareTo(b.Primary.PayloadOffset));
        return copy;
    }

    private bool TakeCompactionWish()
    {
        bool wanted = _compactionWanted;
        _compactionWanted = false;
        return wanted;
    }

    private void SignalCompaction() => _compactionSignal.Writer.TryWrite(true);

    private void Release(HoldHandle hold)
    {
        bool signal;
        lock (_gate)
        {
            _holds.Remove(hold);
            signal = _segments.Exists(IsCandidate);
        }
        if (signal)
        {
            SignalCompaction();
        }
    }
}
