using Ferry.Protocol.OpenWire.Commands;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>
/// An OpenWire message that cannot become a STOMP frame (here: marked compressed, but its body is not
/// zlib) must neither vanish nor wedge the subscriber: it goes to the dead-letter queue with the
/// reason, the STOMP client gets an ERROR and keeps its connection and its later messages.
/// </summary>
public sealed class StompUnconvertibleMessageTests(StompBroker broker) : IClassFixture<StompBroker>
{
    [Theory]
    [InlineData("auto")]
    [InlineData("client-individual")]
    public async Task A_message_stomp_cannot_carry_goes_to_the_DLQ_and_the_subscriber_keeps_going(string ackMode)
    {
        string name = "stomp-unconvertible." + ackMode + "." + Guid.NewGuid().ToString("N");
        var queue = Destination.Queue(name);
        await using var stomp = await RawStomp.ConnectAsync(broker.StompPort);
        await stomp.SendAsync($"SUBSCRIBE\nid:s\ndestination:/queue/{name}\nack:{ackMode}\nreceipt:sub\n\n\0");
        await stomp.ReadUntilAsync("receipt-id:sub");

        await using var openWire = await OpenWireTestClient.ConnectAsync("127.0.0.1", broker.Process.Port);
        var producer = await openWire.AddProducerAsync(queue);
        var bad = OpenWireTestClient.TextMessage(producer, 1, queue, "not really compressed");
        bad.Compressed = true;
        bad.Persistent = true; // non-persistent poison messages are dropped, as in ActiveMQ
        OpenWireTestClient.EnsureOk(await openWire.RequestAsync(bad));
        OpenWireTestClient.EnsureOk(await openWire.RequestAsync(OpenWireTestClient.TextMessage(producer, 2, queue, "fine")));

        var error = await stomp.ReadFrameAsync();
        Assert.Equal("ERROR", error.Command);
        Assert.Contains("Could not convert message", error["message"], StringComparison.Ordinal);
        var next = await stomp.ReadFrameAsync();
        Assert.Equal("MESSAGE", next.Command);
        Assert.Equal("fine", System.Text.Encoding.UTF8.GetString(next.Body.Span));

        await openWire.SubscribeAsync(Destination.Queue("ActiveMQ.DLQ"), consumerValue: 7);
        MessageDispatch dead;
        do
        {
            dead = await openWire.ReceiveAsync(TimeSpan.FromSeconds(30));
        }
        while (!Equals(dead.Message!.MessageId, bad.MessageId)); // the DLQ is shared with other tests
        broker.Process.AssertNoErrors();
    }
}
