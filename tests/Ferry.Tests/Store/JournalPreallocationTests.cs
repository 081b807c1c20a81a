using Ferry.Store.IO;
using Ferry.Store.Journal;
using Microsoft.Extensions.Logging;
using static Ferry.Tests.Store.JournalTestKit;

namespace Ferry.Tests.Store;

/// <summary>
/// The journal zero-fills its active segment ahead of the last record (so an fsync writes data, not the file's
/// growth): a killed process leaves those zeros behind, recovery must read them as the end of the last segment, and
/// no other segment may ever end in them.
/// </summary>
public sealed class JournalPreallocationTests
{
    private const int RecordSize = 8 + 18 + 100; // framing, entry fields, Payload()'s default size
    private const int Ahead = 64 * 1024;

    [Fact]
    public async Task A_killed_journal_leaves_zeros_after_its_last_record_and_recovery_reads_them_as_the_end_without_a_warning()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024, preallocationBytes: Ahead);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        await using (var journal = await OpenAsync(options, faults))
        {
            for (int i = 0; i < 5; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i)));
            }
            faults.Crash(); // killed: nothing is tidied up
        }
        string segment = Assert.Single(SegmentFiles(dir.Path));
        byte[] bytes = await File.ReadAllBytesAsync(segment);
        int end = RecordFormat.SegmentHeaderSize + 5 * RecordSize;
        Assert.Equal(RecordFormat.SegmentHeaderSize + RecordSize + Ahead, bytes.Length); // zero-filled once, at the first append
        Assert.True(bytes.AsSpan(end).IndexOfAnyExcept((byte)0) < 0, "zeros after the last record");

        var logger = new CapturingLogger();
        await using (var journal = await OpenAsync(options, logger: logger))
        {
            Assert.Equal([1L, 2, 3, 4, 5], journal.Recovered.Select(r => r.Position));
            Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
            Assert.Equal(bytes.Length, new FileInfo(segment).Length); // kept for the appends to come
            Assert.Equal(6, await journal.AppendAsync(new JournalEntry(2, Payload(6))));
        }
        // A clean close cuts the zeros: the file ends at its last record.
        Assert.Equal(end + RecordSize, new FileInfo(segment).Length);
        var recovered = await RecoverAsync(options);
        Assert.Equal([1L, 2, 3, 4, 5, 6], recovered.Select(r => r.Position));
        AssertPayload(6, recovered[^1]);
    }

    [Fact]
    public async Task A_segment_is_cut_to_its_last_record_before_the_next_one_starts_so_only_the_last_ends_in_zeros()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 4096, preallocationBytes: Ahead); // capped at the segment size
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        await using (var journal = await OpenAsync(options, faults))
        {
            for (int i = 0; i < 80; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i)));
            }
            faults.Crash();
        }
        string[] files = SegmentFiles(dir.Path);
        Assert.True(files.Length >= 3, $"{files.Length} segments");
        foreach (string file in files[..^1])
        {
            byte[] bytes = await File.ReadAllBytesAsync(file);
            Assert.NotEqual(0, bytes[^1]); // ends in its last record's payload
            Assert.Equal(0, (bytes.Length - RecordFormat.SegmentHeaderSize) % RecordSize);
        }
        Assert.Equal(4096, new FileInfo(files[^1]).Length); // the last one is preallocated to the segment size

        // Zeros in any segment but the last would be refused as corruption.
        var recovered = await RecoverAsync(options);
        Assert.Equal(Enumerable.Range(1, 80).Select(i => (long)i), recovered.Select(r => r.Position));
    }

    [Fact]
    public async Task A_torn_record_among_the_preallocated_zeros_is_cut_off_with_a_warning()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024, preallocationBytes: Ahead);
        foreach (int tornAt in new[] { 0, 3 * RecordSize, -1 }) // -1: the file's last bytes
        {
            foreach (string file in SegmentFiles(dir.Path))
            {
                File.Delete(file);
            }
            var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
            await using (var journal = await OpenAsync(options, faults))
            {
                for (int i = 0; i < 3; i++)
                {
                    await journal.AppendAsync(new JournalEntry(1, Payload(i)));
                }
                faults.Crash();
            }
            string segment = Assert.Single(SegmentFiles(dir.Path));
            byte[] bytes = await File.ReadAllBytesAsync(segment);
            int end = RecordFormat.SegmentHeaderSize + 3 * RecordSize;
            // The first 20 bytes of a record, somewhere in the zeros: a write that was cut short.
            bytes.AsSpan(RecordFormat.SegmentHeaderSize, 20).CopyTo(bytes.AsSpan(tornAt < 0 ? bytes.Length - 20 : end + tornAt));
            await File.WriteAllBytesAsync(segment, bytes);

            var logger = new CapturingLogger();
            await using (var journal = await OpenAsync(options, logger: logger))
            {
                Assert.Equal([1L, 2, 3], journal.Recovered.Select(r => r.Position));
                Assert.Contains(logger.At(LogLevel.Warning), m => m.Contains($"torn or corrupt tail at offset {end}", StringComparison.Ordinal));
                Assert.Equal(end, new FileInfo(segment).Length);
                Assert.Equal(4, await journal.AppendAsync(new JournalEntry(2, Payload(4))));
            }
            Assert.Equal([1L, 2, 3, 4], (await RecoverAsync(options)).Select(r => r.Position));
        }
    }

    [Fact]
    public async Task Appends_into_preallocated_space_need_no_more_disk_and_a_full_disk_fails_only_the_append_that_needs_more()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024, preallocationBytes: 4096);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        var positions = new List<long>();
        await using (var journal = await OpenAsync(options, faults))
        {
            positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload(0))));
            faults.SetFreeSpace(0);
            // 4096 bytes are allocated past the first record: 32 more records fit without the disk.
            for (int i = 1; i <= 4096 / RecordSize; i++)
            {
                positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload(i))));
            }
            var error = await Assert.ThrowsAsync<JournalException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(100))));
            Assert.IsNotType<JournalFailedException>(error);
            Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);

            faults.SetFreeSpace(null);
            positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload(101))));
        }
        await AssertDurableAsync(options, positions, lastSeed: 101);
    }

    [Fact]
    public async Task On_a_nearly_full_disk_a_failed_zero_fill_gives_its_room_back_to_the_records()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024, preallocationBytes: 4096);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        var logger = new CapturingLogger();
        var positions = new List<long>();
        await using (var journal = await OpenAsync(options, faults, logger))
        {
            for (int i = 0; i <= 4096 / RecordSize; i++)
            {
                positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload(i)))); // fills what was zero-filled
            }
            // Room for 3 records but not for the next 4 KiB of zeros: the zeros take what fits, fail, and give it back.
            faults.SetFreeSpace(3 * RecordSize + 10);
            for (int i = 0; i < 3; i++)
            {
                positions.Add(await journal.AppendAsync(new JournalEntry(1, Payload(200 + i))));
            }
            Assert.Contains(logger.At(LogLevel.Warning), m => m.Contains("could not zero-fill", StringComparison.Ordinal));
            var error = await Assert.ThrowsAsync<JournalException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(300))));
            Assert.IsNotType<JournalFailedException>(error);
            Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        }
        await AssertDurableAsync(options, positions, lastSeed: 202);
    }

    /// <summary>Every append that succeeded got the next position (failed ones gave theirs back) and survives a reopen.</summary>
    private static async Task AssertDurableAsync(JournalOptions options, List<long> positions, long lastSeed)
    {
        Assert.Equal(Enumerable.Range(1, positions.Count).Select(i => (long)i), positions);
        var recovered = await RecoverAsync(options);
        Assert.Equal(positions, recovered.Select(r => r.Position));
        AssertPayload(lastSeed, recovered[^1]);
    }

    [Fact]
    public async Task A_journal_fenced_off_by_a_new_master_neither_cuts_its_segment_at_close_nor_starts_another()
    {
        using var dir = new TempDirectory();
        bool fenced = false;
        var options = Options(dir.Path, segmentSize: 4096, preallocationBytes: Ahead) with
        {
            WriteFence = () =>
            {
                if (Volatile.Read(ref fenced))
                {
                    throw new IOException("the lock was taken over");
                }
            },
        };
        // At close: the zeros stay (the new master appends over them).
        await using (var journal = await OpenAsync(options))
        {
            await journal.AppendAsync(new JournalEntry(1, Payload(1)));
            Volatile.Write(ref fenced, true);
        }
        string segment = Assert.Single(SegmentFiles(dir.Path));
        Assert.Equal(4096, new FileInfo(segment).Length);

        // At a roll: neither the cut nor the next segment happen.
        Volatile.Write(ref fenced, false);
        await using (var journal = await OpenAsync(options))
        {
            while (journal.LastPosition < 32)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(journal.LastPosition + 1)));
            }
            Assert.Equal([segment], SegmentFiles(dir.Path)); // (4096 - 32) / 126 = 32 records fit; one more rolls
            Volatile.Write(ref fenced, true);
            await Assert.ThrowsAsync<JournalFailedException>(async () => await journal.AppendAsync(new JournalEntry(1, Payload(99))));
        }
        Assert.Equal([segment], SegmentFiles(dir.Path));
        Assert.Equal(4096, new FileInfo(segment).Length);
        Volatile.Write(ref fenced, false);
        Assert.Equal(32, (await RecoverAsync(options)).Count);
    }

    [Fact]
    public async Task A_power_loss_takes_back_unflushed_records_written_over_preallocated_zeros()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024, preallocationBytes: Ahead);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        long durable, lost;
        await using (var journal = await OpenAsync(options, faults))
        {
            durable = await journal.AppendAsync(new JournalEntry(1, Payload(1)));
            lost = await journal.AppendAsync(new JournalEntry(1, Payload(2), Lazy: true)); // written over the zeros, not flushed
            await faults.DiscardUnflushedWritesAsync();
        }
        var logger = new CapturingLogger();
        var recovered = await RecoverAsync(options, logger);
        Assert.Equal([durable], recovered.Select(r => r.Position));
        Assert.DoesNotContain(lost, recovered.Select(r => r.Position));
        Assert.Empty(logger.At(LogLevel.Warning)); // the lost record's space reads as zeros again, not as a tear
    }
}
