using System.Text;
using Ferry.TestKit;
using Xunit.Abstractions;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>
/// STOMP and the real ActiveMQ Java (OpenWire) client exchange messages through one broker:
/// text and bytes both ways, with headers and properties checked on each side.
/// </summary>
public sealed class StompOpenWireInteropTests(StompBroker broker, ITestOutputHelper output) : IClassFixture<StompBroker>
{
    [Fact]
    public async Task Stomp_producer_to_java_consumer_text_and_bytes()
    {
        string queue = "stomp-to-java." + Guid.NewGuid().ToString("N")[..8];
        await using (var stomp = await RawStomp.ConnectAsync(broker.StompPort))
        {
            // No content-length: a TextMessage. With it: a BytesMessage (NUL inside the body).
            await stomp.SendAsync($"SEND\ndestination:/queue/{queue}\ncorrelation-id:c-7\ntype:greeting\npriority:6\npersistent:true\nreply-to:/topic/REPLY.T\ncolor:red\nreceipt:t\n\nhello java\0");
            await stomp.ReadUntilAsync("receipt-id:t");
            await stomp.SendAsync([.. Encoding.UTF8.GetBytes($"SEND\ndestination:/queue/{queue}\ncontent-length:3\nsize:3\nreceipt:b\n\n"), 0x41, 0x00, 0x42, 0x00]);
            await stomp.ReadUntilAsync("receipt-id:b");
        }
        var (code, text) = await JavaInterop.RunStompInteropAsync(broker.Process.Uri, "consume", queue, "2");
        output.WriteLine(text);
        Assert.True(code == 0, text);
        var messages = text.Split("END\n");
        string first = messages[0], second = messages[1];
        Assert.Contains("TYPE text\n", first, StringComparison.Ordinal);
        Assert.Contains("BODY hello java\n", first, StringComparison.Ordinal);
        Assert.Contains("CORRELATION c-7\n", first, StringComparison.Ordinal);
        Assert.Contains("JMSTYPE greeting\n", first, StringComparison.Ordinal);
        Assert.Contains("PRIORITY 6\n", first, StringComparison.Ordinal);
        Assert.Contains("PERSISTENT true\n", first, StringComparison.Ordinal);
        Assert.Contains("REPLYTO topic://REPLY.T\n", first, StringComparison.Ordinal);
        Assert.Contains("PROP color=red\n", first, StringComparison.Ordinal);
        Assert.Matches(@"ID ID:\S+:-1:1:\d+\n", first);
        Assert.Contains("TYPE bytes\n", second, StringComparison.Ordinal);
        Assert.Contains("BODY 410042\n", second, StringComparison.Ordinal);
        Assert.Contains("PROP size=3\n", second, StringComparison.Ordinal);
        Assert.Contains("PERSISTENT false\n", second, StringComparison.Ordinal);
        broker.Process.AssertNoErrors();
    }

    [Fact]
    public async Task Java_producer_to_stomp_consumer_text_and_bytes()
    {
        string queue = "java-to-stomp." + Guid.NewGuid().ToString("N")[..8];
        var (code, text) = await JavaInterop.RunStompInteropAsync(broker.Process.Uri, "produce", queue);
        output.WriteLine(text);
        Assert.True(code == 0, text);
        string textId = text.Split('\n').Single(l => l.StartsWith("SENT-TEXT ", StringComparison.Ordinal))["SENT-TEXT ".Length..];
        string bytesId = text.Split('\n').Single(l => l.StartsWith("SENT-BYTES ", StringComparison.Ordinal))["SENT-BYTES ".Length..];

        await using var stomp = await RawStomp.ConnectAsync(broker.StompPort);
        await stomp.SendAsync($"SUBSCRIBE\nid:j\ndestination:/queue/{queue}\nack:client-individual\n\n\0");
        var textFrame = await stomp.ReadFrameAsync();
        Assert.Equal("MESSAGE", textFrame.Command);
        Assert.Equal("from-openwire", Encoding.UTF8.GetString(textFrame.Body.Span));
        Assert.Null(textFrame["content-length"]);
        Assert.Equal(textId, textFrame["message-id"]);
        Assert.Equal($"/queue/{queue}", textFrame["destination"]);
        Assert.Equal("j", textFrame["subscription"]);
        Assert.NotNull(textFrame["ack"]);
        Assert.Equal("c1", textFrame["correlation-id"]);
        Assert.Equal("tt", textFrame["type"]);
        Assert.Equal("6", textFrame["priority"]);
        Assert.Equal("true", textFrame["persistent"]);
        Assert.Equal("/topic/REPLY.T", textFrame["reply-to"]);
        Assert.Equal("v", textFrame["sp"]);
        Assert.Equal("3", textFrame["ip"]);
        Assert.Equal("true", textFrame["bp"]);
        Assert.Equal("0", textFrame["expires"]);
        Assert.NotNull(textFrame["timestamp"]);

        var bytesFrame = await stomp.ReadFrameAsync();
        Assert.Equal(bytesId, bytesFrame["message-id"]);
        Assert.Equal("3", bytesFrame["content-length"]);
        Assert.Equal(new byte[] { 0x41, 0x00, 0x42 }, bytesFrame.Body.ToArray());
        Assert.Equal("1234567890123", bytesFrame["lp"]);
        Assert.Null(bytesFrame["persistent"]);

        await stomp.SendAsync($"ACK\nid:{textFrame["ack"]}\n\n\0ACK\nid:{bytesFrame["ack"]}\nreceipt:done\n\n\0");
        await stomp.ReadUntilAsync("receipt-id:done");
        broker.Process.AssertNoErrors();
    }
}
