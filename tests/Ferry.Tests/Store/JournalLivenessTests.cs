using Ferry.Store.IO;
using Ferry.Store.Journal;
using Ferry.TestKit;
using static Ferry.Tests.Store.JournalTestKit;

namespace Ferry.Tests.Store;

public sealed class JournalLivenessTests
{
    private const byte Add = 1;
    private const byte Remove = 2;

    /// <summary>
    /// Appends until the active segment and <paramref name="segments"/> - 1 more are full; returns the positions in
    /// them. The record that started the next (now active) segment is not returned and stays live.
    /// </summary>
    private static async Task<List<long>> FillAsync(Journal journal, int segments, int seed = 0)
    {
        var positions = new List<long>();
        int start = journal.Stats.Segments;
        while (journal.Stats.Segments < start + segments)
        {
            positions.Add(await journal.AppendAsync(new JournalEntry(Add, Payload(seed + positions.Count))));
        }
        positions.RemoveAt(positions.Count - 1);
        return positions;
    }

    [Fact]
    public async Task A_segment_whose_records_are_all_dead_is_deleted_but_the_active_one_never_is()
    {
        using var dir = new TempDirectory();
        // Deletion only; no preallocated zeros, so the active file's length is its records'.
        await using var journal = await OpenAsync(Options(dir.Path, compactionThreshold: 0, preallocationBytes: 0));
        var positions = await FillAsync(journal, 2);
        string[] before = SegmentFiles(dir.Path);
        Assert.Equal(3, before.Length);

        foreach (long position in positions)
        {
            journal.MarkDead(position);
        }
        await journal.CompactAsync(CancellationToken.None);

        Assert.Equal([before[2]], SegmentFiles(dir.Path));
        Assert.Equal(2, journal.Stats.SegmentsDeleted);
        Assert.Equal(new FileInfo(before[2]).Length, journal.Stats.StoredBytes);
        Assert.Equal(0, journal.Stats.RecordsCompacted);
    }

    [Fact]
    public async Task A_segment_with_a_live_record_is_kept_without_compaction()
    {
        using var dir = new TempDirectory();
        await using var journal = await OpenAsync(Options(dir.Path, compactionThreshold: 0));
        var positions = await FillAsync(journal, 2);
        foreach (long position in positions.Skip(1))
        {
            journal.MarkDead(position);
        }
        await journal.CompactAsync(CancellationToken.None);
        string[] files = SegmentFiles(dir.Path);
        Assert.Equal(2, files.Length);
        Assert.EndsWith("0000000000000001.journal", files[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancel_keeps_its_segment_until_the_cancelled_record_is_gone_so_a_removed_record_never_comes_back()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path, compactionThreshold: 0); // deletion only, no compaction
        long added, removed, keeper;
        List<long> first, second;
        await using (var journal = await OpenAsync(options))
        {
            added = await journal.AppendAsync(new JournalEntry(Add, Payload(1)));
            keeper = await journal.AppendAsync(new JournalEntry(Add, Payload(2)));
            first = await FillAsync(journal, 1, seed: 10);                    // segment 1 full: added, keeper, first...
            removed = await journal.AppendAsync(new JournalEntry(Remove, Payload(3), Cancels: added));
            second = await FillAsync(journal, 1, seed: 1000);                 // segment 2: removed, second...

            // The owner consumed the message: the add is dead, and so is everything else but the keeper.
            journal.MarkDead(added);
            journal.MarkDead(removed); // ignored: a cancel lives as long as what it cancels is stored
            foreach (long position in first.Concat(second))
            {
                journal.MarkDead(position);
            }
            await journal.CompactAsync(CancellationToken.None);

            // Segment 1 holds the live keeper, so the dead add is still on disk, so the remove must stay.
            Assert.Equal(3, SegmentFiles(dir.Path).Length);
        }

        // Reopen while the add is still stored: the remove comes back with it.
        await using (var journal = await OpenAsync(options))
        {
            Assert.Contains(journal.Recovered, r => r.Position == added);
            Assert.Contains(journal.Recovered, r => r.Position == removed && r.Cancels == added);
            foreach (var record in journal.Recovered.Where(r => r.Position != keeper))
            {
                journal.MarkDead(record.Position);
            }
            await journal.CompactAsync(CancellationToken.None);
            Assert.Equal(3, SegmentFiles(dir.Path).Length);

            // The keeper dies: segment 1 goes, then the remove is dead and segment 2 goes too.
            journal.MarkDead(keeper);
            await journal.CompactAsync(CancellationToken.None);
            Assert.Single(SegmentFiles(dir.Path));
        }

        var recovered = await RecoverAsync(options);
        Assert.DoesNotContain(recovered, r => r.Position == added);
        Assert.DoesNotContain(recovered, r => r.Position == removed);
    }

    [Fact]
    public async Task Compacting_away_a_cancelled_record_then_its_cancel_never_resurrects_it()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        long added, removed, keeper;
        await using (var journal = await OpenAsync(options))
        {
            added = await journal.AppendAsync(new JournalEntry(Add, Payload(1)));
            keeper = await journal.AppendAsync(new JournalEntry(Add, Payload(2)));
            var first = await FillAsync(journal, 1, seed: 10);
            removed = await journal.AppendAsync(new JournalEntry(Remove, Payload(3), Cancels: added));
            await FillAsync(journal, 1, seed: 1000);
            journal.MarkDead(added);
            foreach (long position in first)
            {
                journal.MarkDead(position);
            }
            // Segment 1 is mostly dead: the keeper moves to the tail, segment 1 goes, and with it the need for the remove.
            await journal.CompactAsync(CancellationToken.None);
            Assert.DoesNotContain(SegmentFiles(dir.Path), f => f.EndsWith("0000000000000001.journal", StringComparison.Ordinal));
        }
        await using (var journal = await OpenAsync(options))
        {
            Assert.DoesNotContain(journal.Recovered, r => r.Position == added);
            var kept = Assert.Single(journal.Recovered, r => r.Position == keeper);
            AssertPayload(2, kept);
        }
    }

    [Fact]
    public async Task Compaction_moves_live_records_to_the_tail_keeping_their_positions_and_deletes_the_old_segment()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        var live = new List<long>();
        await using (var journal = await OpenAsync(options))
        {
            var first = await FillAsync(journal, 1);
            await FillAsync(journal, 1, seed: 1000);
            string oldSegment = SegmentFiles(dir.Path)[0];
            for (int i = 0; i < first.Count; i++)
            {
                if (i % 5 == 0)
                {
                    live.Add(first[i]);
                }
                else
                {
                    journal.MarkDead(first[i]);
                }
            }
            await journal.CompactAsync(CancellationToken.None);

            Assert.False(File.Exists(oldSegment));
            Assert.Equal(live.Count, journal.Stats.RecordsCompacted);
            var read = await ReadAllAsync(journal);
            Assert.Equal(read.Select(r => r.Position).Order(), read.Select(r => r.Position));
            Assert.Equal(live, read.Select(r => r.Position).Where(p => p <= first[^1]));
            foreach (var record in read.Where(r => live.Contains(r.Position)))
            {
                AssertPayload(record.Position - 1, record);
            }
        }
        var recovered = await RecoverAsync(options);
        Assert.Equal(live, recovered.Select(r => r.Position).Where(p => p <= live[^1]));
        Assert.Equal(recovered.Count, recovered.Select(r => r.Position).Distinct().Count());
    }

    [Fact]
    public async Task Compaction_keeps_the_type_and_cancel_of_moved_records()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        long target, cancel;
        await using (var journal = await OpenAsync(options))
        {
            target = await journal.AppendAsync(new JournalEntry(Add, Payload(0)));
            await FillAsync(journal, 1, seed: 1);
            cancel = await journal.AppendAsync(new JournalEntry(Remove, Payload(7), Cancels: target));
            var second = await FillAsync(journal, 1, seed: 500);
            foreach (long position in second)
            {
                journal.MarkDead(position);
            }
            // Segment 2 holds only the (live) cancel: it moves to the tail.
            await journal.CompactAsync(CancellationToken.None);
            Assert.True(journal.Stats.RecordsCompacted >= 1);
        }
        var recovered = await RecoverAsync(options);
        var moved = Assert.Single(recovered, r => r.Position == cancel);
        Assert.Equal(Remove, moved.Type);
        Assert.Equal(target, moved.Cancels);
        AssertPayload(7, moved);
    }

    [Fact]
    public async Task A_crash_after_the_copies_are_durable_but_before_the_old_segment_is_deleted_recovers_without_duplicates()
    {
        using var dir = new TempDirectory();
        var options = Options(dir.Path);
        var faults = new FaultInjectingFileSystem(PhysicalFileSystem.Instance);
        var live = new List<long>();
        var dead = new List<long>();
        long last;
        await using (var journal = await OpenAsync(options, faults))
        {
            var first = await FillAsync(journal, 1);
            await FillAsync(journal, 1, seed: 1000);
            last = journal.LastPosition;
            live.AddRange(first.Where((_, i) => i % 4 == 0));
            dead.AddRange(first.Except(live));
            faults.CrashAt(FaultPoint.Delete);
            foreach (long position in dead)
            {
                journal.MarkDead(position);
            }
            try
            {
                await journal.CompactAsync(CancellationToken.None);
            }
            catch (IOException)
            {
                // the simulated crash
            }
            await WaitFor.ConditionAsync(() => faults.HasCrashed, TimeSpan.FromSeconds(10), "the crash before the delete");
            Assert.True(journal.Stats.RecordsCompacted >= live.Count);
        }
        Assert.EndsWith("0000000000000001.journal", SegmentFiles(dir.Path)[0], StringComparison.Ordinal); // not deleted

        await using (var journal = await OpenAsync(options))
        {
            var positions = journal.Recovered.Select(r => r.Position).ToList();
            Assert.Equal(positions.Distinct().Count(), positions.Count);
            Assert.Equal(Enumerable.Range(1, (int)last).Select(p => (long)p), positions); // nothing lost, nothing twice
            foreach (var record in journal.Recovered.Where(r => live.Contains(r.Position)))
            {
                AssertPayload(record.Position - 1, record);
            }
            // The owner rebuilds: the same records are dead again, and now segment 1 goes without copying anything more.
            foreach (long position in dead)
            {
                journal.MarkDead(position);
            }
            long compactedBefore = journal.Stats.RecordsCompacted;
            await journal.CompactAsync(CancellationToken.None);
            Assert.Equal(compactedBefore, journal.Stats.RecordsCompacted);
            Assert.DoesNotContain(SegmentFiles(dir.Path), f => f.EndsWith("0000000000000001.journal", StringComparison.Ordinal));
        }
        var final = await RecoverAsync(options);
        Assert.Equal(final.Select(r => r.Position).Distinct().Count(), final.Count);
        Assert.Equal(live, final.Select(r => r.Position).Where(p => p <= live[^1]));
    }

    [Fact]
    public async Task A_hold_keeps_segments_until_it_is_disposed()
    {
        using var dir = new TempDirectory();
        await using var journal = await OpenAsync(Options(dir.Path));
        var positions = await FillAsync(journal, 2);
        var hold = journal.Hold(positions[0]);
        foreach (long position in positions)
        {
            journal.MarkDead(position);
        }
        await journal.CompactAsync(CancellationToken.None);
        Assert.Equal(3, SegmentFiles(dir.Path).Length);
        var held = await ReadAllAsync(journal, positions[0]);
        Assert.Equal(positions, held.Select(r => r.Position).Take(positions.Count));

        hold.Dispose();
        // Releasing the hold wakes the background compaction; CompactAsync waits for it (or does the work itself).
        await WaitFor.ConditionAsync(() => SegmentFiles(dir.Path).Length == 1, TimeSpan.FromSeconds(10), "the released segments to be deleted");
        await journal.CompactAsync(CancellationToken.None);
        Assert.Single(SegmentFiles(dir.Path));
    }

    [Fact]
    public async Task A_hold_past_a_segment_does_not_keep_it()
    {
        using var dir = new TempDirectory();
        await using var journal = await OpenAsync(Options(dir.Path));
        var first = await FillAsync(journal, 1);
        var second = await FillAsync(journal, 1, seed: 1000);
        using var hold = journal.Hold(second[0]);
        foreach (long position in first.Concat(second))
        {
            journal.MarkDead(position);
        }
        await journal.CompactAsync(CancellationToken.None);
        Assert.Equal(2, SegmentFiles(dir.Path).Length); // segment 1 went, segment 2 is held
    }

    [Fact]
    public async Task Read_returns_the_stored_records_from_a_position_in_order()
    {
        using var dir = new TempDirectory();
        await using var journal = await OpenAsync(Options(dir.Path));
        var positions = new List<long>();
        for (int i = 0; i < 60; i++)
        {
            positions.Add(await journal.AppendAsync(new JournalEntry((byte)i, Payload(i))));
        }
        var read = await ReadAllAsync(journal, positions[20]);
        Assert.Equal(positions.Skip(20), read.Select(r => r.Position));
        Assert.All(read, r => AssertPayload(r.Position - 1, r));
        Assert.Equal((byte)20, read[0].Type);
    }
}
