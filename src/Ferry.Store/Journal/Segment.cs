using Ferry.Store.IO;

namespace Ferry.Store.Journal;

/// <summary>One segment file and what the journal knows about it. Mutable state is guarded by the journal's lock.</summary>
internal sealed class Segment(long id, string path, IRandomAccessFile file, long basePosition)
{
    public long Id { get; } = id;

    public string Path { get; } = path;

    public IRandomAccessFile File { get; } = file;

    /// <summary>The next position to be assigned when the segment was created (from its header).</summary>
    public long BasePosition { get; set; } = basePosition;

    /// <summary>The end of the last valid record; the writer appends here.</summary>
    public long Length { get; set; } = RecordFormat.SegmentHeaderSize;

    /// <summary>
    /// How far the file is known to hold records or zeros (see <see cref="JournalOptions.PreallocationBytes"/>): a write
    /// ending past it zero-fills ahead first. Writer loop only.
    /// </summary>
    public long Allocated { get; set; } = RecordFormat.SegmentHeaderSize;

    /// <summary>Zero-filling failed here (a nearly full disk): this segment grows with its writes. Writer loop only.</summary>
    public bool PreallocationRefused { get; set; }

    /// <summary>Bytes of the records counted live whose primary copy is here.</summary>
    public long LiveBytes { get; set; }

    /// <summary>Records counted live whose primary copy is here; compaction copies exactly these.</summary>
    public int LiveCount { get; set; }

    /// <summary>The position of every record physically stored here (primary copies and duplicates).</summary>
    public List<long> Positions { get; } = [];

    /// <summary>The highest position stored here; a hold from at most this keeps the segment.</summary>
    public long MaxPosition { get; set; }

    /// <summary>Set once the file is being deleted: its copies are no longer read, but still count as stored until the deletion is durable.</summary>
    public bool Deleting { get; set; }

    /// <summary>Bytes of records (the file without its header).</summary>
    public long DataBytes => Length - RecordFormat.SegmentHeaderSize;

    public void Add(long position)
    {
        Positions.Add(position);
        MaxPosition = Math.Max(MaxPosition, position);
    }

    public override string ToString() => Path;
}

/// <summary>Where a copy of a record's payload lies.</summary>
internal readonly record struct Location(Segment Segment, long PayloadOffset);

/// <summary>
/// A logical record that is physically stored in at least one segment. Usually one copy; two while (or after a
/// crash during) compaction. Guarded by the journal's lock.
/// </summary>
internal sealed class StoredRecord(long position, byte type, long cancels, int payloadLength, Location primary)
{
    public long Position { get; } = position;

    public byte Type { get; } = type;

    public long Cancels { get; } = cancels;

    public int PayloadLength { get; } = payloadLength;

    /// <summary>The copy that is read and whose segment the record counts toward.</summary>
    public Location Primary { get; set; } = primary;

    /// <summary>Other physical copies, or null.</summary>
    public List<Location>? Copies { get; set; }

    /// <summary>The owner called MarkDead (ignored for cancelling records).</summary>
    public bool Dead { get; set; }

    /// <summary>Counted live in <see cref="Primary"/>'s segment: compaction must copy it before that segment goes.</summary>
    public bool Counted { get; set; }

    /// <summary>The record this one cancels, while it is still stored.</summary>
    public StoredRecord? Target { get; set; }

    /// <summary>Stored records that cancel this one.</summary>
    public List<StoredRecord>? CancelledBy { get; set; }

    /// <summary>Removed from the journal: no copy is stored any more.</summary>
    public bool Removed { get; set; }

    /// <summary>The bytes it takes as a moved record: what compaction would copy.</summary>
    public long Size => RecordFormat.EntryRecordSize(PayloadLength);

    public bool IsStoredOutside(Segment segment)
    {
        if (Primary.Segment != segment)
        {
            return true;
        }
        if (Copies is not null)
        {
            foreach (var copy in Copies)
            {
                if (copy.Segment != segment)
                {
                    return true;
                }
            }
        }
        return false;
    }
}
