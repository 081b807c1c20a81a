using System.Collections.Concurrent;
using System.Text;
using Ferry.Store.IO;
using Ferry.Store.Journal;
using Microsoft.Extensions.Logging;

namespace Ferry.Tests.Store;

/// <summary>A directory of its own for one test, removed afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ferry-journal-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }
}

/// <summary>Collects log entries so tests can assert on warnings (and on the absence of unexpected errors).</summary>
internal sealed class CapturingLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, int EventId, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, eventId.Id, formatter(state, exception)));

    public IEnumerable<string> At(LogLevel level) => Entries.Where(e => e.Level == level).Select(e => e.Message);
}

internal static class JournalTestKit
{
    /// <summary>Small segments so a few records roll them; no background compaction surprises beyond what tests await.</summary>
    public static JournalOptions Options(string directory, long segmentSize = 4096, double compactionThreshold = 0.5,
        JournalSyncPolicy sync = JournalSyncPolicy.Always, TimeSpan? lazyFlushDelay = null, int? preallocationBytes = null) => new()
    {
        Directory = directory,
        SegmentSize = segmentSize,
        PreallocationBytes = preallocationBytes ?? new JournalOptions { Directory = directory }.PreallocationBytes,
        CompactionThreshold = compactionThreshold,
        SyncPolicy = sync,
        // Tests that count flushes must not race the lazy-flush timer; the tests of that timer set it.
        LazyFlushDelay = lazyFlushDelay ?? TimeSpan.FromHours(1),
    };

    public static Task<Journal> OpenAsync(JournalOptions options, IFileSystem? fileSystem = null, ILogger? logger = null) =>
        Journal.OpenAsync(options, fileSystem ?? PhysicalFileSystem.Instance, logger ?? new CapturingLogger(), CancellationToken.None);

    public static byte[] Payload(long i, int size = 100)
    {
        var bytes = new byte[size];
        var text = Encoding.ASCII.GetBytes($"record-{i}-");
        for (int at = 0; at < size; at++)
        {
            bytes[at] = text[at % text.Length];
        }
        return bytes;
    }

    public static string[] SegmentFiles(string directory) =>
        [.. Directory.GetFiles(directory, "*.journal").Order(StringComparer.Ordinal)];

    public static async Task<List<JournalRecord>> ReadAllAsync(Journal journal, long from = 0)
    {
        var records = new List<JournalRecord>();
        await foreach (var record in journal.ReadAsync(from, CancellationToken.None))
        {
            records.Add(record);
        }
        return records;
    }

    /// <summary>Opens the directory afresh (real file system) and returns what recovery finds.</summary>
    public static async Task<List<JournalRecord>> RecoverAsync(JournalOptions options, ILogger? logger = null)
    {
        await using var journal = await OpenAsync(options, logger: logger);
        return [.. journal.Recovered];
    }

    public static void AssertPayload(long seed, JournalRecord record, int size = 100) =>
        Assert.True(Payload(seed, size).AsSpan().SequenceEqual(record.Payload.Span), $"payload of position {record.Position}");
}
