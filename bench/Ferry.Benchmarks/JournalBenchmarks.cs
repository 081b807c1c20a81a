using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using Ferry.Store.IO;
using Ferry.Store.Journal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Benchmarks;

/// <summary>
/// Group commit of the journal: concurrent appenders of 1 KiB records with <see cref="JournalSyncPolicy.Always"/>
/// (fdatasync before an append completes) on a real temporary directory. Each appender appends and waits, like a
/// producer doing synchronous persistent sends; the time per operation is the time per append.
/// </summary>
[MemoryDiagnoser]
public class JournalBenchmarks
{
    private const int AppendsPerInvoke = 1000;
    private readonly byte[] _payload = new byte[1024];
    private string _directory = "";
    private Journal _journal = null!;

    [Params(1, 10, 100)]
    public int Appenders { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = JournalGroupCommit.NewDirectory();
        _journal = await Journal.OpenAsync(new JournalOptions { Directory = _directory }, PhysicalFileSystem.Instance, NullLogger.Instance, CancellationToken.None);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        var stats = _journal.Stats;
        Console.WriteLine($"// journal: {stats.Appends} appends, {stats.Flushes} flushes, {(double)stats.Appends / Math.Max(1, stats.Flushes):0.0} appends per flush");
        await _journal.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = AppendsPerInvoke)]
    public Task AppendDurably() => JournalGroupCommit.AppendAsync(_journal, Appenders, AppendsPerInvoke, _payload);
}

/// <summary>
/// A plain timed run that reports appends per fsync at 1, 10 and 100 concurrent appenders
/// (<c>dotnet run -c Release --project bench/Ferry.Benchmarks -- --journal [appends]</c>).
/// </summary>
public static class JournalGroupCommit
{
    public static async Task RunAsync(string[] args)
    {
        int appends = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4000;
        var payload = new byte[1024];
        Console.WriteLine($"Journal group commit: 1 KiB records, SyncPolicy.Always, {appends} appends per run, directory under {Path.GetTempPath()}");
        Console.WriteLine();
        Console.WriteLine("| concurrent appenders | appends | fsyncs | appends per fsync | appends/s | mean latency |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (int appenders in new[] { 1, 10, 100 })
        {
            string directory = NewDirectory();
            try
            {
                await using var journal = await Journal.OpenAsync(new JournalOptions { Directory = directory }, PhysicalFileSystem.Instance, NullLogger.Instance, CancellationToken.None);
                await AppendAsync(journal, appenders, Math.Min(appends, 100), payload); // warm up
                var before = journal.Stats;
                var clock = Stopwatch.StartNew();
                await AppendAsync(journal, appenders, appends, payload);
                clock.Stop();
                var after = journal.Stats;
                long done = after.Appends - before.Appends;
                long flushes = after.Flushes - before.Flushes;
                double seconds = clock.Elapsed.TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {appenders} | {done} | {flushes} | {(double)done / Math.Max(1, flushes):0.0} | {done / seconds:N0} | {seconds * 1000 * appenders / done:0.00} ms |"));
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary><paramref name="appenders"/> tasks append <paramref name="total"/> records between them, each waiting for its append; every record is dead once written so segments are reclaimed.</summary>
    public static Task AppendAsync(Journal journal, int appenders, int total, byte[] payload)
    {
        int remaining = total;
        return Task.WhenAll(Enumerable.Range(0, appenders).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                long position = await journal.AppendAsync(new JournalEntry(1, payload));
                journal.MarkDead(position);
            }
        })));
    }

    public static string NewDirectory()
    {
        string directory = Path.Combine(Path.GetTempPath(), "ferry-journal-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }
}
