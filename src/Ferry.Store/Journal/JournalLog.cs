using Microsoft.Extensions.Logging;

namespace Ferry.Store.Journal;

/// <summary>The journal's log messages (event ids 300-319).</summary>
internal static partial class JournalLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Journal {Directory} opened: {Segments} segment(s), {Records} record(s), last position {LastPosition}")]
    public static partial void Opened(ILogger logger, string directory, int segments, int records, long lastPosition);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Journal segment {Path}: cut off a torn or corrupt tail at offset {Offset} ({Bytes} bytes discarded): {Reason}")]
    public static partial void TornTail(ILogger logger, string path, long offset, long bytes, string reason);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "Journal segment {Path} was being created when the journal stopped ({Reason}); it held no records and is started afresh")]
    public static partial void IncompleteHeader(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 303, Level = LogLevel.Critical, Message = "Journal {Directory} stopped: {Reason}")]
    public static partial void FailStopped(ILogger logger, string directory, string reason, Exception cause);

    [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "Journal append of {Bytes} bytes to {Path} at offset {Offset} failed; the partial write was cut off and the appends failed")]
    public static partial void WriteFailed(ILogger logger, int bytes, string path, long offset, Exception cause);

    [LoggerMessage(EventId = 305, Level = LogLevel.Debug, Message = "Journal segment {Path} started at position {Position}")]
    public static partial void SegmentStarted(ILogger logger, string path, long position);

    [LoggerMessage(EventId = 306, Level = LogLevel.Debug, Message = "Journal segment {Path} deleted")]
    public static partial void SegmentDeleted(ILogger logger, string path);

    [LoggerMessage(EventId = 307, Level = LogLevel.Debug, Message = "Journal segment {Path}: {Records} live record(s) ({Bytes} bytes) copied to the tail")]
    public static partial void SegmentCompacted(ILogger logger, string path, int records, long bytes);

    [LoggerMessage(EventId = 308, Level = LogLevel.Warning, Message = "Journal compaction failed; the segments involved are kept and compaction will be tried again")]
    public static partial void CompactionFailed(ILogger logger, Exception cause);

    [LoggerMessage(EventId = 309, Level = LogLevel.Warning, Message = "Journal segment {Path} could not be deleted; it is kept")]
    public static partial void DeleteFailed(ILogger logger, string path, Exception cause);

    [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Journal segment {Path} still has live records after compaction; it is kept")]
    public static partial void CompactionIncomplete(ILogger logger, string path);

    [LoggerMessage(EventId = 311, Level = LogLevel.Error, Message = "Journal could not start segment {Path}; the appends waiting for it failed")]
    public static partial void RollFailed(ILogger logger, string path, Exception cause);

    [LoggerMessage(EventId = 313, Level = LogLevel.Warning, Message = "Journal segment {Path}: could not zero-fill {Bytes} bytes ahead (disk full?); the room was given back and this segment grows with its writes")]
    public static partial void PreallocationFailed(ILogger logger, string path, long bytes, Exception cause);

    [LoggerMessage(EventId = 314, Level = LogLevel.Debug, Message = "Journal segment {Path}: {Bytes} preallocated bytes after the last record at offset {Offset}")]
    public static partial void PreallocatedTail(ILogger logger, string path, long offset, long bytes);

    [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message = "Journal segment {Path}: could not cut its preallocated zeros at close; they are kept (recovery reads them as the end)")]
    public static partial void TrimFailed(ILogger logger, string path, Exception cause);
}
