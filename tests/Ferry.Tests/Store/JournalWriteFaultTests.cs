using System.Collections.Concurrent;
using Ferry.Store.IO;
using Ferry.Store.Journal;
using Ferry.TestKit;
using Microsoft.Extensions.Logging;
using static Ferry.Tests.Store.JournalTestKit;

namespace Ferry.Tests.Store;

public sealed class JournalWriteFaultTests
{
    [Fact]
    public async Task Concurrent_appenders_share_flushes()
    {
        using var dir = new TempDirectory();
        await using var journal = await OpenAsync(Options(dir.Path, segmentSize: 64 * 1024 * 1024));
        long flushesAtOpen = journal.Stats.Flushes;
        var positions = new ConcurrentBag<long>();
        await Task.WhenAll(Enumerable.Range(0, 100).Select(appender => Task.Run(async () =>
        {
            for (int i = 0; i < 20; i++)
            {
                positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload((appender * 100) + i))));
            }
        })));

        var stats = journal.Stats;
        Assert.Equal(2000, stats.Appends);
        Assert.Equal(2000, positions.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 2000).Select(i => (long)i), positions.Order());
        long flushes = stats.Flushes - flushesAtOpen;
        Assert.True(flushes < stats.Appends, $"{flushes} flushes for {stats.Appends} appends");
        Assert.True(stats.Batches < stats.Appends, $"{stats.Batches} batches for {stats.Appends} appends");
    }

    [Fact]
    public async Task Every_acknowledged_append_survives_a_power_loss()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        var acknowledged = new ConcurrentBag<long>();
        await using (var journal = await OpenAsync(options, faults))
        {
            var appenders = Enumerable.Range(0, 20).Select(appender => Task.Run(async () =>
            {
                for (int i = 0; ; i++)
                {
                    try
                    {
                        acknowledged.Add(await journal.AppendAsync(new JournalEntry(1, Payload(i))));
                    }
                    catch (IOException)
                    {
                        return; // the power went
                    }
                }
            })).ToArray();
            await WaitFor.ConditionAsync(() => acknowledged.Count >= 300, TimeSpan.FromSeconds(10), "some appends");
            await faults.DiscardUnflushedWritesAsync(); // power loss: everything not flushed is gone, the file system is dead
            await Task.WhenAll(appenders);
        }
        var recovered = (await RecoverAsync(options)).Select(r => r.Position).ToHashSet();
        Assert.Subset(recovered, acknowledged.ToHashSet());
    }

    [Fact]
    public async Task Lazy_appends_take_no_flush_of_their_own_and_become_durable_with_the_next_flush()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1 << 20);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        long lazyPosition, durablePosition, lostPosition;
        await using (var journal = await OpenAsync(options, faults))
        {
            long flushesBefore = journal.Stats.Flushes;
            lazyPosition = await journal.AppendAsync(new JournalEntry(1, Payload(1), Lazy: true));
            Assert.Equal(flushesBefore, journal.Stats.Flushes);
            durablePosition = await journal.AppendAsync(new JournalEntry(1, Payload(2)));
            Assert.Equal(flushesBefore + 1, journal.Stats.Flushes);
            lostPosition = await journal.AppendAsync(new JournalEntry(1, Payload(3), Lazy: true));
            await faults.DiscardUnflushedWritesAsync(); // power loss before anything flushed the last lazy append
        }
        var recovered = (await RecoverAsync(options)).Select(r => r.Position).ToList();
        Assert.Contains(lazyPosition, recovered);
        Assert.Contains(durablePosition, recovered);
        Assert.DoesNotContain(lostPosition, recovered);
    }

    [Fact]
    public async Task A_lazy_append_is_flushed_within_the_lazy_flush_delay_when_nothing_else_flushes_it()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1 << 20, lazyFlushDelay: TimeSpan.FromMilliseconds(50));
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        long lazyPosition;
        await using (var journal = await OpenAsync(options, faults))
        {
            long flushesBefore = journal.Stats.Flushes;
            lazyPosition = await journal.AppendAsync(new JournalEntry(1, Payload(1), Lazy: true));
            await WaitFor.ConditionAsync(() => journal.Stats.Flushes > flushesBefore, TimeSpan.FromSeconds(30), "the lazy flush");
            await faults.DiscardUnflushedWritesAsync(); // power loss after the timer's flush
        }
        var recovered = (await RecoverAsync(options)).Select(r => r.Position).ToList();
        Assert.Contains(lazyPosition, recovered);
    }

    [Fact]
    public async Task A_steady_stream_of_lazy_appends_is_still_flushed_periodically()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 64 << 20, lazyFlushDelay: TimeSpan.FromMilliseconds(20));
        await using var journal = await OpenAsync(options);
        long flushesBefore = journal.Stats.Flushes;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // Bounded: stops as soon as a flush happened, or after 200,000 appends, or 30 s.
        for (int i = 0; i < 200_000 && journal.Stats.Flushes == flushesBefore && !deadline.IsCancellationRequested; i++)
        {
            await journal.AppendAsync(new JournalEntry(1, Payload(i, 64), Lazy: true));
        }
        Assert.True(journal.Stats.Flushes > flushesBefore, "lazy appends arriving back to back were never flushed");
    }

    [Fact]
    public async Task Closing_the_journal_flushes_lazy_appends()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1 << 20);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        long lazyPosition;
        await using (var journal = await OpenAsync(options, faults))
        {
            lazyPosition = await journal.AppendAsync(new JournalEntry(1, Payload(1), Lazy: true));
        }
        await faults.DiscardUnflushedWritesAsync(); // power loss after a clean close
        var recovered = (await RecoverAsync(options)).Select(r => r.Position).ToList();
        Assert.Contains(lazyPosition, recovered);
    }

    [Fact]
    public async Task A_failed_flush_stops_the_journal_and_fails_every_pending_and_later_append()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        var logger = new CapturingLogger();
        await using (var journal = await OpenAsync(options, faults, logger))
        {
            for (int i = 0; i < 3; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i)));
            }
            faults.FailAt(FaultPoint.Flush);
            var pending = Enumerable.Range(0, 50).Select(i => journal.AppendAsync(new JournalEntry(1, Payload(i))).AsTask()).ToArray();
            foreach (var append in pending)
            {
                var error = await Assert.ThrowsAsync<JournalFailedException>(() => append);
                Assert.Contains("stopped", error.Message, StringComparison.Ordinal);
            }
            await Assert.ThrowsAsync<JournalFailedException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(9))));
            await Assert.ThrowsAsync<JournalFailedException>(async () => await journal.AppendBatchAsync([new JournalEntry(1, Payload(9))]));
            await Assert.ThrowsAsync<JournalFailedException>(() => journal.CompactAsync(CancellationToken.None));
            Assert.False(faults.HasCrashed); // the file system works; the journal chose to stop
            Assert.Contains(logger.Entries, e => e.Level == LogLevel.Critical);
        }
        var recovered = await RecoverAsync(options);
        Assert.Equal([1L, 2, 3], recovered.Select(r => r.Position).Take(3));
    }

    [Fact]
    public async Task A_full_disk_fails_the_append_clearly_keeps_what_was_durable_and_appends_resume_when_space_returns()
    {
        using var dir = new TempDirectory();
        // Without preallocation every append grows the file, so a full disk fails the append itself.
        var options = Options(dir.Path, segmentSize: 1024 * 1024, preallocationBytes: 0);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        string segment;
        long durableLength;
        await using (var journal = await OpenAsync(options, faults))
        {
            for (int i = 0; i < 3; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i)));
            }
            segment = Assert.Single(SegmentFiles(dir.Path));
            durableLength = new FileInfo(segment).Length;

            faults.SetFreeSpace(50);
            var error = await Assert.ThrowsAsync<JournalException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(3))));
            Assert.IsNotType<JournalFailedException>(error);
            Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
            Assert.Equal(durableLength, new FileInfo(segment).Length); // the partial write was cut off
            await Assert.ThrowsAsync<JournalException>(async () => await journal.AppendBatchAsync([new JournalEntry(1, Payload(4)), new JournalEntry(1, Payload(5))]));

            faults.SetFreeSpace(null);
            Assert.Equal(4, await journal.AppendAsync(new JournalEntry(1, Payload(6))));
        }
        var recovered = await RecoverAsync(options);
        Assert.Equal([1L, 2, 3, 4], recovered.Select(r => r.Position));
        AssertPayload(6, recovered[3]);
    }

    [Fact]
    public async Task After_a_full_disk_and_a_crash_recovery_yields_exactly_the_durable_records()
    {
        using var dir = new TempDirectory();
        // Without preallocation every append grows the file, so a full disk fails the append itself.
        var options = Options(dir.Path, segmentSize: 1024 * 1024, preallocationBytes: 0);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        await using (var journal = await OpenAsync(options, faults))
        {
            for (int i = 0; i < 3; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i)));
            }
            faults.SetFreeSpace(60);
            faults.CrashAt(FaultPoint.SetLength); // the process dies before the partial write is cut off
            await Assert.ThrowsAsync<JournalFailedException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(3))));
        }
        var recovered = await RecoverAsync(options);
        Assert.Equal([1L, 2, 3], recovered.Select(r => r.Position));
    }

    [Fact]
    public async Task A_failed_segment_roll_fails_the_append_and_the_journal_carries_on()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        var positions = new List<long>();
        await using (var journal = await OpenAsync(options, faults))
        {
            faults.FailAt(FaultPoint.CreateFile);
            JournalException? error = null;
            while (error is null)
            {
                try
                {
                    positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload(positions.Count))));
                }
                catch (JournalException ex)
                {
                    error = ex;
                }
            }
            Assert.IsNotType<JournalFailedException>(error);
            Assert.Contains("could not start journal segment", error.Message, StringComparison.Ordinal);
            positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload(positions.Count))));
            Assert.Equal(2, journal.Stats.Segments);
        }
        var recovered = await RecoverAsync(options);
        Assert.Equal(positions, recovered.Select(r => r.Position));
    }

    [Fact]
    public async Task An_oversized_record_or_a_cancel_of_a_later_position_is_refused()
    {
        using var dir = new TempDirectory();
        await using var journal = await OpenAsync(Options(dir.Path) with { MaxRecordSize = 4096 });
        await Assert.ThrowsAsync<ArgumentException>(async () => await journal.AppendAsync(new JournalEntry(1, new byte[5000])));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(1), Cancels: -5)));
        await Assert.ThrowsAsync<ArgumentException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(1), Cancels: 1)));
        Assert.Equal(1, await journal.AppendAsync(new JournalEntry(1, Payload(1))));
    }

    [Fact]
    public async Task An_append_cancelled_before_it_is_queued_is_not_written()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        await using (var journal = await OpenAsync(options))
        {
            using var cancelled = new CancellationTokenSource();
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(1)), cancelled.Token));
            Assert.Equal(1, await journal.AppendAsync(new JournalEntry(1, Payload(2))));
        }
        Assert.Single(await RecoverAsync(options));
    }
}
