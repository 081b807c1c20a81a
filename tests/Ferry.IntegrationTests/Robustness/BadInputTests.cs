using System.Net.Sockets;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Robustness;

/// <summary>
/// Bad bytes close only the connection that sent them, with a logged reason; a client already
/// connected to the same broker keeps working.
/// </summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private BrokerProcess _broker = null!;

    public async Task InitializeAsync() => _broker = await BrokerProcess.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private static byte[] ClientWireFormatInfo()
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        return codec.Encode(WireFormatInfo.From(new WireFormatOptions { TightEncodingEnabled = false })).ToArray();
    }

    public static TheoryData<string, byte[], string> BadInputs()
    {
        byte[] wfi = ClientWireFormatInfo();
        return new TheoryData<string, byte[], string>
        {
            { "garbage", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), "exceeds the maximum" },
            { "truncated frame", [.. wfi, 0, 0, 0, 40, DataTypes.ConnectionInfo, 0, 0, 0, 1], "connection closed inside a frame" },
            { "frame announcing 2 GiB", [.. wfi, 0x7F, 0xFF, 0xFF, 0xFF, DataTypes.ConnectionInfo], "exceeds the maximum" },
            { "negative frame size", [.. wfi, 0x80, 0x00, 0x00, 0x00, DataTypes.ConnectionInfo], "Invalid frame size" },
            { "unknown command type", [.. wfi, 0, 0, 0, 6, 13, 0, 0, 0, 1, 0], "Unknown data type 13" },
            { "bad magic", [0, 0, 0, 14, DataTypes.WireFormatInfo, .. "NotAMQ!!"u8, 0, 0, 0, 12, 0], "magic is invalid" },
        };
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_closes_only_the_offending_connection(string what, byte[] bytes, string logged)
    {
        await using var good = await OpenWireTestClient.ConnectAsync("127.0.0.1", _broker.Port);
        var queue = Destination.Queue("bad-input." + what.Replace(' ', '-'));
        var producer = await good.AddProducerAsync(queue);
        await good.SubscribeAsync(queue);

        using (var bad = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await bad.ConnectAsync("127.0.0.1", _broker.Port);
            await bad.SendAsync(bytes);
            if (what == "truncated frame")
            {
                bad.Shutdown(SocketShutdown.Send);
            }
            // The broker closes its side: reads drain its WireFormatInfo/BrokerInfo, then end.
            var buffer = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                while (await bad.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
                {
                }
            }
            catch (SocketException)
            {
                // A reset is a close too.
            }
        }
        await _broker.WaitForLogAsync(logged, TimeSpan.FromSeconds(60));

        await good.SendTextAsync(producer, queue, "still served after " + what);
        var dispatch = await good.ReceiveAsync();
        Assert.Equal("still served after " + what, OpenWireTestClient.TextOf(dispatch.Message!));
        _broker.AssertNoErrors();
    }
}
