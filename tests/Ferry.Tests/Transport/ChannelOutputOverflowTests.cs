using System.Buffers;
using System.IO.Pipelines;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Tests.Transport;

/// <summary>
/// The channel output's overflow policies over in-memory pipes whose peer stops reading: Wait parks
/// senders until the write loop drains, Disconnect drops the slow peer.
/// </summary>
public sealed class ChannelOutputOverflowTests
{
    private const int ItemSize = 4096;
    private const long Limit = 64 * 1024;
    // More than the in-memory pipe (1 MiB) and the limit can hold while nobody reads.
    private const int Overfill = 2 * 1024 * 1024 / ItemSize;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task With_wait_a_sender_past_the_limit_waits_until_the_peer_reads_and_nothing_is_lost()
    {
        var (local, peer) = InMemoryConnection.CreatePair("overflow-wait");
        var output = Start(local, OutputOverflow.Wait);
        for (int i = 0; i < Overfill; i++)
        {
            Assert.True(output.Enqueue(Item(i)));
        }
        await WaitUntil(() => output.PendingBytes > Limit);

        // The pipe is full and the queue past its limit: a sender must wait, and the output stays open.
        var waiting = output.WaitForRoomAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.False(output.IsClosed);

        var received = ReadAllAsync(peer, Overfill);
        await waiting.AsTask().WaitAsync(Bound);
        await received.WaitAsync(Bound);
        Assert.False(output.IsClosed);
        await output.DisposeAsync();
    }

    [Fact]
    public async Task With_wait_a_sender_loop_never_queues_past_the_limit_and_every_item_arrives_in_order()
    {
        var (local, peer) = InMemoryConnection.CreatePair("overflow-loop");
        var output = Start(local, OutputOverflow.Wait);
        const int count = 4 * Overfill;
        long mostPending = 0;
        int sent = 0;
        var sender = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                await output.WaitForRoomAsync(CancellationToken.None);
                Assert.True(output.Enqueue(Item(i)));
                mostPending = Math.Max(mostPending, output.PendingBytes);
                Volatile.Write(ref sent, i + 1);
            }
        });
        // Nobody reads yet: the sender fills the pipe (1 MiB) and the queue past half the limit, then waits;
        // it cannot finish, as count items do not fit.
        await WaitUntil(() => Volatile.Read(ref sent) * ItemSize > 1024 * 1024 + Limit / 2 || sender.IsCompleted);
        Assert.False(sender.IsCompleted);

        await ReadAllAsync(peer, count).WaitAsync(Bound);
        await sender.WaitAsync(Bound);
        Assert.True(mostPending <= Limit + ItemSize, $"{mostPending} bytes were queued, limit {Limit}");
        Assert.False(output.IsClosed);
        await output.DisposeAsync();
    }

    [Fact]
    public async Task A_waiting_sender_honours_its_token_and_is_released_when_the_output_aborts()
    {
        var (local, _) = InMemoryConnection.CreatePair("overflow-cancel");
        var output = Start(local, OutputOverflow.Wait);
        for (int i = 0; i < Overfill; i++)
        {
            output.Enqueue(Item(i));
        }
        await WaitUntil(() => output.PendingBytes > Limit);

        using var cancel = new CancellationTokenSource();
        var cancelled = output.WaitForRoomAsync(cancel.Token).AsTask();
        var other = output.WaitForRoomAsync(CancellationToken.None).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Bound));
        Assert.False(other.IsCompleted);
        Assert.False(output.IsClosed);

        output.Abort("test over");
        await other.WaitAsync(Bound);
        Assert.False(output.Enqueue(Item(0)));
        await output.DisposeAsync();
    }

    [Fact]
    public async Task With_disconnect_the_peer_that_stops_reading_is_dropped_as_a_slow_consumer()
    {
        var (local, _) = InMemoryConnection.CreatePair("overflow-disconnect");
        var output = Start(local, OutputOverflow.Disconnect);
        bool accepted = true;
        for (int i = 0; i < Overfill && accepted; i++)
        {
            accepted = output.Enqueue(Item(i));
        }
        Assert.False(accepted);
        Assert.StartsWith("slow consumer", output.CloseReason);
        // Disconnect never makes a sender wait.
        Assert.True(output.WaitForRoomAsync(CancellationToken.None).IsCompletedSuccessfully);
        await output.DisposeAsync();
    }

    private static ChannelOutput<byte[]> Start(InMemoryConnection connection, OutputOverflow overflow)
    {
        var output = new ChannelOutput<byte[]>(connection, Limit, 16 * 1024, TimeProvider.System, NullLogger.Instance, item => item.Length)
        {
            Overflow = overflow,
        };
        output.Start((item, writer) => writer.Write(item));
        return output;
    }

    /// <summary>Item <paramref name="i"/>: ItemSize bytes of (byte)i, so order and completeness can be checked.</summary>
    private static byte[] Item(int i)
    {
        var item = new byte[ItemSize];
        Array.Fill(item, (byte)i);
        return item;
    }

    /// <summary>Reads <paramref name="count"/> items' bytes and checks each byte is its item's number.</summary>
    private static async Task ReadAllAsync(InMemoryConnection peer, int count)
    {
        long expected = (long)count * ItemSize;
        long offset = 0;
        while (offset < expected)
        {
            var result = await peer.Input.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                foreach (byte b in segment.Span)
                {
                    if (b != (byte)(offset / ItemSize))
                    {
                        Assert.Fail($"byte {offset} is {b}, expected {(byte)(offset / ItemSize)}");
                    }
                    offset++;
                }
            }
            peer.Input.AdvanceTo(result.Buffer.End);
            Assert.False(result.IsCompleted && offset < expected, $"the output ended after {offset} of {expected} bytes");
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var limit = new CancellationTokenSource(Bound);
        while (!condition())
        {
            await Task.Delay(10, limit.Token);
        }
    }
}
