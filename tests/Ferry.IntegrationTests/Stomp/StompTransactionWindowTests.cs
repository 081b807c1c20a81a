using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Stomp;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>
/// A client-individual subscriber acknowledging inside a transaction gets one more message per
/// committed ack, not a window widened past its prefetch: acking the last of ten unacked messages
/// frees one slot, not ten.
/// </summary>
public sealed class StompTransactionWindowTests(StompBroker broker) : IClassFixture<StompBroker>
{
    [Fact]
    public async Task A_transacted_individual_ack_frees_one_slot_of_the_window()
    {
        string name = "stomp-txwindow." + Guid.NewGuid().ToString("N");
        await using var stomp = await RawStomp.ConnectAsync(broker.StompPort);
        for (int i = 0; i < 30; i++)
        {
            await stomp.SendAsync($"SEND\ndestination:/queue/{name}\n{(i == 29 ? "receipt:sent\n" : "")}\nm{i}\0");
        }
        await stomp.ReadUntilAsync("receipt-id:sent");
        await stomp.SendAsync($"SUBSCRIBE\nid:s\ndestination:/queue/{name}\nack:client-individual\nactivemq.prefetchSize:10\n\n\0");
        var window = new List<StompFrame>();
        for (int i = 0; i < 10; i++)
        {
            var frame = await stomp.ReadFrameAsync();
            Assert.Equal("MESSAGE", frame.Command);
            window.Add(frame);
        }

        // Acknowledge only the last of the ten, in a transaction, and commit it.
        await stomp.SendAsync("BEGIN\ntransaction:tx\n\n\0");
        await stomp.SendAsync($"ACK\nid:{window[^1]["ack"]}\ntransaction:tx\n\n\0");
        await stomp.SendAsync("COMMIT\ntransaction:tx\nreceipt:committed\n\n\0");
        int more = 0;
        while (true)
        {
            var frame = await stomp.ReadFrameAsync();
            if (frame.Command == "RECEIPT")
            {
                break;
            }
            Assert.Equal("MESSAGE", frame.Command);
            more++;
        }

        // Whatever the subscriber was not given is still on the queue for another consumer: 30 − 10 − one slot.
        await using var other = await OpenWireTestClient.ConnectAsync("127.0.0.1", broker.Process.Port);
        await other.SubscribeAsync(Destination.Queue(name));
        int left = 0;
        try
        {
            while (true)
            {
                await other.ReceiveAsync(TimeSpan.FromSeconds(1));
                left++;
            }
        }
        catch (OperationCanceledException)
        {
        }
        Assert.True(more <= 1, $"{more} messages came with the commit");
        Assert.Equal(19, left);
        broker.Process.AssertNoErrors();
    }
}
