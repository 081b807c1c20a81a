namespace Ferry.Store.Journal;

/// <summary>When an append's batch is flushed to disk before the append completes.</summary>
public enum JournalSyncPolicy
{
    /// <summary>Every batch is flushed (fdatasync) before its appends complete: an append that returned survives a power loss.</summary>
    Always,

    /// <summary>Batches are left to the OS to write back; survives a killed process but not a power loss. Tests and benchmarks only.</summary>
    Never,
}

/// <summary>How a <see cref="Journal"/> lays out and writes its files. Every limit says why it is there.</summary>
public sealed record JournalOptions
{
    /// <summary>The directory holding the segment files; created if missing. One journal per directory.</summary>
    public required string Directory { get; init; }

    /// <summary>A new segment is started once the active one would grow past this (32 MiB): small enough to compact cheaply.</summary>
    public long SegmentSize { get; init; } = 32 * 1024 * 1024;

    /// <summary>
    /// The active segment is extended with zeros this far (1 MiB) ahead of its last record, so that a flush writes
    /// data only: a file that grows with every batch makes every fdatasync also commit its new size and blocks,
    /// which costs about half as much again per flush on ext4. 0 lets the file grow with each write.
    /// </summary>
    public int PreallocationBytes { get; init; } = 1024 * 1024;

    /// <summary>Whether each batch is flushed before its appends complete (<see cref="JournalSyncPolicy.Always"/>).</summary>
    public JournalSyncPolicy SyncPolicy { get; init; } = JournalSyncPolicy.Always;

    /// <summary>A full segment whose live bytes fall below this fraction of its size has its live records copied to the tail and is deleted (0.5).</summary>
    public double CompactionThreshold { get; init; } = 0.5;

    /// <summary>One group commit writes at most this many bytes (4 MiB), so one flush does not wait behind an unbounded write.</summary>
    public int MaxBatchBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>The largest record (an entry, or an atomic batch of entries, with its framing) accepted (64 MiB); larger appends are refused.</summary>
    public int MaxRecordSize { get; init; } = 64 * 1024 * 1024;

    /// <summary>Appends waiting for the writer (16384); past it <see cref="Journal.AppendAsync"/> waits for room (back-pressure).</summary>
    public int MaxQueuedAppends { get; init; } = 16 * 1024;

    /// <summary>
    /// A lazy append (an acknowledgement, an async send) is flushed at the latest this long after it was
    /// written (100 ms) when no other append flushes it first: nobody waits on it, but it must not stay
    /// at the mercy of the OS's write-back for long.
    /// </summary>
    public TimeSpan LazyFlushDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Called before every write: throws if this process may no longer write (a newer master took
    /// the shared store over). The journal then fail-stops, so a stale master never writes again.
    /// </summary>
    public Action? WriteFence { get; init; }

    private const int MaxLimit = 1024 * 1024 * 1024; // keeps one group's buffer (a batch plus one record) within an array

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("JournalOptions.Directory is required", nameof(Directory));
        }
        if (SegmentSize < 4096 || SegmentSize > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(SegmentSize), SegmentSize, "a segment must be between 4 KiB and 2 GiB");
        }
        if (PreallocationBytes is < 0 or > 64 * 1024 * 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(PreallocationBytes), PreallocationBytes, "preallocation must be between 0 and 64 MiB");
        }
        if (CompactionThreshold is < 0 or > 1 || double.IsNaN(CompactionThreshold))
        {
            throw new ArgumentOutOfRangeException(nameof(CompactionThreshold), CompactionThreshold, "the compaction threshold is a fraction between 0 and 1");
        }
        if (MaxRecordSize is < 1024 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRecordSize), MaxRecordSize, "the record size limit must be between 1 KiB and 1 GiB");
        }
        if (MaxBatchBytes is < 1024 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchBytes), MaxBatchBytes, "the batch size limit must be between 1 KiB and 1 GiB");
        }
        if (MaxQueuedAppends < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxQueuedAppends), MaxQueuedAppends, "at least one append must be able to queue");
        }
    }
}
