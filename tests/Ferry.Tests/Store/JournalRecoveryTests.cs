using Ferry.Store.IO;
using Ferry.Store.Journal;
using Microsoft.Extensions.Logging;
using static Ferry.Tests.Store.JournalTestKit;

namespace Ferry.Tests.Store;

public sealed class JournalRecoveryTests
{
    [Fact]
    public async Task Appended_records_are_recovered_in_order_across_segment_rolls()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        var positions = new List<long>();
        await using (var journal = await OpenAsync(options))
        {
            for (int i = 0; i < 200; i++)
            {
                positions.Add(await journal.AppendAsync(new JournalEntry((byte)(i % 7), Payload(i))));
            }
            Assert.True(journal.Stats.Segments > 3, "small segments roll");
            Assert.Equal(positions[^1], journal.LastPosition);
        }
        Assert.True(SegmentFiles(dir.Path).Length > 3);

        var recovered = await RecoverAsync(options);
        Assert.Equal(positions, recovered.Select(r => r.Position));
        for (int i = 0; i < recovered.Count; i++)
        {
            Assert.Equal((byte)(i % 7), recovered[i].Type);
            Assert.Equal(-1, recovered[i].Cancels);
            AssertPayload(i, recovered[i]);
        }
    }

    [Fact]
    public async Task Positions_increase_and_carry_on_after_a_restart()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        long last;
        await using (var journal = await OpenAsync(options))
        {
            long previous = 0;
            for (int i = 0; i < 50; i++)
            {
                long position = await journal.AppendAsync(new JournalEntry(1, Payload(i)));
                Assert.True(position > previous);
                previous = position;
            }
            last = previous;
        }
        await using (var journal = await OpenAsync(options))
        {
            Assert.Equal(last, journal.LastPosition);
            long next = await journal.AppendAsync(new JournalEntry(1, Payload(99)));
            Assert.Equal(last + 1, next);
            long[] batch = await journal.AppendBatchAsync([new JournalEntry(2, Payload(1)), new JournalEntry(3, Payload(2)), new JournalEntry(4, Payload(3))]);
            Assert.Equal([last + 2, last + 3, last + 4], batch);
        }
    }

    [Fact]
    public async Task Positions_never_go_back_even_when_every_record_was_deleted()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        long last = 0;
        await using (var journal = await OpenAsync(options))
        {
            for (int i = 0; i < 100; i++)
            {
                last = await journal.AppendAsync(new JournalEntry(1, Payload(i)));
                journal.MarkDead(last);
            }
            await journal.CompactAsync(CancellationToken.None);
            Assert.Equal(1, journal.Stats.Segments);
        }
        await using (var journal = await OpenAsync(options))
        {
            Assert.DoesNotContain(journal.Recovered, r => r.Position < last - 50);
            Assert.True(await journal.AppendAsync(new JournalEntry(1, Payload(0))) > last);
        }
    }

    [Fact]
    public async Task A_torn_tail_at_every_byte_of_the_last_record_recovers_the_earlier_records_and_appends_continue()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024);
        long lastStart;
        await using (var journal = await OpenAsync(options))
        {
            for (int i = 0; i < 5; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i, 40)));
            }
        }
        string segment = Assert.Single(SegmentFiles(dir.Path));
        byte[] complete = await File.ReadAllBytesAsync(segment);
        lastStart = complete.Length - (8 + 18 + 40);

        for (long cut = lastStart; cut < complete.Length; cut++)
        {
            await File.WriteAllBytesAsync(segment, complete.AsSpan(0, (int)cut).ToArray());
            var logger = new CapturingLogger();
            await using (var journal = await OpenAsync(options, logger: logger))
            {
                Assert.Equal([1L, 2, 3, 4], journal.Recovered.Select(r => r.Position));
                if (cut > lastStart)
                {
                    Assert.Contains(logger.At(LogLevel.Warning), m => m.Contains($"offset {lastStart}", StringComparison.Ordinal));
                }
                Assert.Equal(5, await journal.AppendAsync(new JournalEntry(2, Payload(50, 40))));
            }
            var after = await RecoverAsync(options);
            Assert.Equal([1L, 2, 3, 4, 5], after.Select(r => r.Position));
            Assert.Equal(2, after[^1].Type);
        }
    }

    [Fact]
    public async Task A_flipped_byte_in_the_last_record_is_cut_off_with_a_warning()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024);
        await using (var journal = await OpenAsync(options))
        {
            for (int i = 0; i < 5; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i, 40)));
            }
        }
        string segment = Assert.Single(SegmentFiles(dir.Path));
        byte[] bytes = await File.ReadAllBytesAsync(segment);
        int recordSize = 8 + 18 + 40;
        foreach (int offsetInRecord in new[] { 0, 5, 9, 20, recordSize - 1 })
        {
            byte[] damaged = (byte[])bytes.Clone();
            damaged[bytes.Length - recordSize + offsetInRecord] ^= 0x40;
            await File.WriteAllBytesAsync(segment, damaged);
            var logger = new CapturingLogger();
            await using (var journal = await OpenAsync(options, logger: logger))
            {
                Assert.Equal([1L, 2, 3, 4], journal.Recovered.Select(r => r.Position));
                Assert.Contains(logger.At(LogLevel.Warning), m => m.Contains("torn or corrupt tail", StringComparison.Ordinal));
            }
            Assert.Equal(bytes.Length - recordSize, new FileInfo(segment).Length);
        }
    }

    [Fact]
    public async Task Corruption_in_a_segment_other_than_the_last_fails_the_open_loudly()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        await using (var journal = await OpenAsync(options))
        {
            for (int i = 0; i < 100; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i)));
            }
        }
        string first = SegmentFiles(dir.Path)[0];
        byte[] bytes = await File.ReadAllBytesAsync(first);
        bytes[200] ^= 0x01;
        await File.WriteAllBytesAsync(first, bytes);

        var error = await Assert.ThrowsAsync<JournalCorruptException>(() => OpenAsync(options));
        Assert.Equal(first, error.Path);
        Assert.Contains("corrupt", error.Message, StringComparison.Ordinal);
        Assert.Equal(bytes.Length, new FileInfo(first).Length); // nothing was cut
    }

    [Fact]
    public async Task A_last_segment_whose_creation_was_interrupted_is_started_afresh()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        await using (var journal = await OpenAsync(options))
        {
            for (int i = 0; i < 10; i++)
            {
                await journal.AppendAsync(new JournalEntry(1, Payload(i)));
            }
        }
        // A crash right after creating the next segment file, before its header was written.
        await File.WriteAllBytesAsync(Path.Combine(dir.Path, "0000000000000002.journal"), new byte[7]);
        await using (var journal = await OpenAsync(options))
        {
            Assert.Equal(10, journal.Recovered.Count);
            Assert.Equal(11, await journal.AppendAsync(new JournalEntry(1, Payload(10))));
        }
        Assert.Equal(11, (await RecoverAsync(options)).Count);
    }

    [Fact]
    public async Task An_atomic_batch_torn_anywhere_leaves_none_of_it()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, segmentSize: 1024 * 1024);
        JournalEntry[] batch = [.. Enumerable.Range(0, 4).Select(i => new JournalEntry(3, Payload(100 + i, 20)))];
        int batchSize = 8 + 13 + (4 * (13 + 20));
        for (int keep = 0; keep < batchSize; keep += 3)
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
                faults.TearNextWrite(keep);
                await Assert.ThrowsAsync<JournalFailedException>(async () => await journal.AppendBatchAsync(batch));
                Assert.True(faults.HasCrashed);
            }
            var recovered = await RecoverAsync(options);
            Assert.Equal([1L, 2, 3], recovered.Select(r => r.Position));
        }
    }

    [Fact]
    public async Task An_atomic_batch_that_was_written_whole_is_recovered_whole()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        long[] positions;
        await using (var journal = await OpenAsync(options))
        {
            await journal.AppendAsync(new JournalEntry(1, Payload(0)));
            positions = await journal.AppendBatchAsync([new JournalEntry(2, Payload(1)), new JournalEntry(3, Payload(2), Cancels: 1), new JournalEntry(4, Payload(3))]);
        }
        var recovered = await RecoverAsync(options);
        Assert.Equal([1L, 2, 3, 4], recovered.Select(r => r.Position));
        Assert.Equal([2L, 3, 4], positions);
        Assert.Equal(1, recovered[2].Cancels);
        AssertPayload(3, recovered[3]);
    }
}
