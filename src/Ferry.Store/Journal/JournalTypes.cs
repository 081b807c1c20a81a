namespace Ferry.Store.Journal;

/// <summary>
/// One record to append: an opaque payload with a type byte chosen by the owner. <paramref name="Cancels"/>
/// is the position of an earlier record this one cancels (a "remove"), or -1. A <paramref name="Lazy"/> append
/// completes once written, without a flush of its own: it becomes durable with the next flushed group (or segment
/// roll, or close). For records whose loss in a power failure is harmless, such as acknowledgements.
/// </summary>
public readonly record struct JournalEntry(byte Type, ReadOnlyMemory<byte> Payload, long Cancels = -1, bool Lazy = false);

/// <summary>A stored record: its position (unique, increasing in append order, kept when the record is moved), type, payload and the position it cancels (-1 if none).</summary>
public readonly record struct JournalRecord(long Position, byte Type, ReadOnlyMemory<byte> Payload, long Cancels);

/// <summary>Counters since the journal was opened, and the current number of segments.</summary>
/// <param name="Appends">Entries appended (an atomic batch counts each of its entries).</param>
/// <param name="Batches">Group commits: writes of one or more appends followed by at most one flush.</param>
/// <param name="Flushes">Flushes to disk (fdatasync/fsync) of segment files, including those when a segment rolls or a compaction completes.</param>
/// <param name="BytesWritten">Bytes written to segment files (headers, appends and moved records).</param>
/// <param name="Segments">Segment files now in the journal.</param>
/// <param name="SegmentsDeleted">Segment files deleted because they held nothing live (after compaction or not).</param>
/// <param name="RecordsCompacted">Records copied to the tail by compaction.</param>
/// <param name="StoredBytes">Bytes now in segment files (what the journal occupies on disk, without preallocation).</param>
public sealed record JournalStats(
    long Appends,
    long Batches,
    long Flushes,
    long BytesWritten,
    int Segments,
    long SegmentsDeleted,
    long RecordsCompacted,
    long StoredBytes);

/// <summary>A journal failure; the message says what happened and what is known about the data.</summary>
public class JournalException : IOException
{
    public JournalException() { }

    public JournalException(string message) : base(message) { }

    public JournalException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The journal has stopped (fail-stop) because a flush failed or a failed write could not be undone, so what is on
/// disk is unknown. Every pending and later append fails with this; reopen the journal to recover what is durable.
/// </summary>
public sealed class JournalFailedException : JournalException
{
    public JournalFailedException() { }

    public JournalFailedException(string message) : base(message) { }

    public JournalFailedException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A segment other than the last one (or the last one's header) is unreadable: the journal refuses to open rather than drop data.</summary>
public sealed class JournalCorruptException : JournalException
{
    public JournalCorruptException() { }

    public JournalCorruptException(string message) : base(message) { }

    public JournalCorruptException(string message, Exception inner) : base(message, inner) { }

    public JournalCorruptException(string path, long offset, string reason)
        : base($"Journal segment {path} is corrupt at offset {offset}: {reason}. Refusing to open; restore the file or move it away knowingly.")
    {
        Path = path;
        Offset = offset;
    }

    public string? Path { get; }

    public long Offset { get; }
}
