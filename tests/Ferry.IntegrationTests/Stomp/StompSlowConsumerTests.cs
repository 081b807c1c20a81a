using System.Globalization;
using System.Text;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>
/// A STOMP subscriber that stops reading its socket: the broker drops it as a slow consumer once its
/// output passes <c>MaxPendingOutputBytesPerConnection</c>, keeps serving everyone else, and the
/// messages it had not acknowledged go back to the queue, so another consumer gets every one.
/// </summary>
public sealed class StompSlowConsumerTests
{
    private const int Messages = 1500;
    private const int BodySize = 8 * 1024; // 12 MiB in all: more than the loopback socket buffers absorb

    [Fact]
    public async Task A_subscriber_that_stops_reading_is_dropped_and_its_unacknowledged_messages_go_to_the_next_consumer()
    {
        using var dir = new TempConfig("""{ "MaxPendingOutputBytesPerConnection": 262144 }""");
        await using var broker = BrokerProcess.Launch(["--config", dir.Path, "--bind", "tcp://127.0.0.1:0", "--bind", "stomp://127.0.0.1:0"]);
        await broker.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
        await broker.WaitForLogAsync("listening on stomp://", TimeSpan.FromSeconds(30));
        int port = broker.PortOf("stomp");
        string queue = "/queue/stomp-slow." + Guid.NewGuid().ToString("N");

        // Subscribes with a window larger than the output limit, then never reads again.
        await using var slow = await RawStomp.ConnectAsync(port);
        await slow.SendAsync($"SUBSCRIBE\nid:slow\ndestination:{queue}\nack:client-individual\nactivemq.prefetchSize:{Messages}\nreceipt:sub\n\n\0");
        await slow.ReadUntilAsync("receipt-id:sub");

        await using (var producer = await RawStomp.ConnectAsync(port))
        {
            string body = new('x', BodySize);
            for (int i = 0; i < Messages; i++)
            {
                string receipt = i == Messages - 1 ? "receipt:sent\n" : "";
                await producer.SendAsync($"SEND\ndestination:{queue}\npersistent:true\nindex:{i}\n{receipt}\n{body}\0");
            }
            await producer.ReadUntilAsync("receipt-id:sent");
        }

        await broker.WaitForLogAsync("slow consumer", TimeSpan.FromSeconds(60));

        // Everyone else is still served: a new consumer gets every message exactly once (its window of
        // 10 messages keeps its own output under the limit).
        await using var next = await RawStomp.ConnectAsync(port);
        await next.SendAsync($"SUBSCRIBE\nid:next\ndestination:{queue}\nack:auto\nactivemq.prefetchSize:10\n\n\0");
        var seen = new HashSet<int>();
        while (seen.Count < Messages)
        {
            var frame = await next.ReadFrameAsync();
            Assert.Equal("MESSAGE", frame.Command);
            int index = int.Parse(frame["index"]!, CultureInfo.InvariantCulture);
            Assert.True(seen.Add(index), $"message {index} delivered twice");
            Assert.Equal(BodySize, frame.Body.Length);
        }

        // Nothing more than the messages sent: a marker sent now is the very next frame.
        await using (var producer = await RawStomp.ConnectAsync(port))
        {
            await producer.SendAsync($"SEND\ndestination:{queue}\nindex:marker\nreceipt:m\n\nend\0");
            await producer.ReadUntilAsync("receipt-id:m");
        }
        var last = await next.ReadFrameAsync();
        Assert.Equal("marker", last["index"]);
        broker.AssertNoErrors();
    }

    /// <summary>A broker config file in a temporary directory.</summary>
    private sealed class TempConfig : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("ferry-stomp-slow-").FullName;

        public TempConfig(string json)
        {
            Path = System.IO.Path.Combine(_directory, "broker.json");
            File.WriteAllText(Path, json, Encoding.UTF8);
        }

        public string Path { get; }

        public void Dispose() => Directory.Delete(_directory, recursive: true);
    }
}
