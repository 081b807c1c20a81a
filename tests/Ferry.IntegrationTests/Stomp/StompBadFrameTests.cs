using System.Net.Sockets;
using System.Text;
using Ferry.TestKit;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>
/// Bad STOMP input against a real broker: the offender gets an ERROR frame with a <c>message</c>
/// header and (for the fatal cases, as ActiveMQ) its connection is closed, while another STOMP client
/// keeps working and the broker logs no error.
/// </summary>
public sealed class StompBadFrameTests : IAsyncLifetime
{
    private const string Connect = "CONNECT\naccept-version:1.2\nhost:localhost\n\n\0";
    private BrokerProcess _broker = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        // stomp+nio:// is the same implementation as stomp://; the small body limit makes "oversized" cheap.
        _broker = BrokerProcess.Launch(["--bind", "tcp://127.0.0.1:0", "--bind", "stomp+nio://127.0.0.1:0?wireFormat.maxDataLength=4096"]);
        await _broker.WaitUntilListeningAsync(TimeSpan.FromSeconds(30));
        await _broker.WaitForLogAsync("listening on stomp+nio://", TimeSpan.FromSeconds(30));
        _port = _broker.PortOf("stomp+nio");
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    public static TheoryData<string, string, string> FatalInputs() => new()
    {
        { "garbage", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "Unknown STOMP action: GET / HTTP/1.1" },
        { "unknown command", Connect + "FOO\n\n\0", "Unknown STOMP action: FOO" },
        { "oversized header", Connect + "SEND\ndestination:/queue/x\nbig:" + new string('h', 11_000) + "\n\nbody\0", "maximum header length" },
        { "oversized body", Connect + "SEND\ndestination:/queue/x\ncontent-length:100000\n\n" + new string('b', 5000), "maximum data length" },
        { "bad content-length", Connect + "SEND\ndestination:/queue/x\ncontent-length:abc\n\nbody\0", "not a valid integer" },
        { "no NUL after content-length", Connect + "SEND\ndestination:/queue/x\ncontent-length:2\n\nabc\0", "no trailing null byte" },
        { "truncated frame", Connect + "SEND\ndestination:/queue/x\n\nabc", "closed inside a frame" },
        { "bad heart-beat", "CONNECT\naccept-version:1.2\nheart-beat:abc\n\n\0", "Invalid heart-beat header:abc" },
        { "unsupported version", "CONNECT\naccept-version:2.0\n\n\0", "Invalid Protocol version[2.0]" },
    };

    [Theory]
    [MemberData(nameof(FatalInputs))]
    public async Task Bad_frame_gets_an_error_and_only_that_connection_closes(string what, string input, string expected)
    {
        await using var good = await RawStomp.ConnectAsync(_port);
        string queue = "/queue/stomp-bad." + what.Replace(' ', '-');
        await good.SendAsync($"SUBSCRIBE\nid:s\ndestination:{queue}\nreceipt:sub\n\n\0");
        await good.ReadUntilAsync("receipt-id:sub");

        using var bad = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await bad.ConnectAsync("127.0.0.1", _port);
        await bad.SendAsync(Encoding.UTF8.GetBytes(input));
        if (what == "truncated frame")
        {
            bad.Shutdown(SocketShutdown.Send);
        }
        string received = await ReadToCloseAsync(bad);
        Assert.Contains("ERROR\n", received, StringComparison.Ordinal);
        Assert.Contains("message:", received, StringComparison.Ordinal);
        Assert.Contains(expected, received, StringComparison.Ordinal);

        await good.SendAsync($"SEND\ndestination:{queue}\n\nstill served\0");
        await good.ReadUntilAsync("still served");
        _broker.AssertNoErrors();
    }

    [Fact]
    public async Task Missing_destination_is_an_error_but_the_connection_stays_open()
    {
        await using var client = await RawStomp.ConnectAsync(_port);
        await client.SendAsync("SEND\nreceipt:r1\n\nno destination\0");
        string error = await client.ReadUntilAsync("receipt-id:r1");
        Assert.Contains("ERROR\n", error, StringComparison.Ordinal);
        Assert.Contains("SEND received without a Destination specified!", error, StringComparison.Ordinal);
        await client.SendAsync("SEND\ndestination:/queue/stomp-bad.after\nreceipt:r2\n\nok\0");
        string receipt = await client.ReadUntilAsync("receipt-id:r2");
        Assert.Contains("RECEIPT\n", receipt, StringComparison.Ordinal);
        _broker.AssertNoErrors();
    }

    [Fact]
    public async Task A_refused_subscribe_is_forgotten_so_its_id_can_be_used_again()
    {
        await using var client = await RawStomp.ConnectAsync(_port);
        await client.SendAsync("SUBSCRIBE\nid:s\ndestination:/queue/stomp-bad.sel\nselector:color = = 'red'\nreceipt:bad\n\n\0");
        string error = await client.ReadUntilAsync("receipt-id:bad");
        Assert.Contains("ERROR\n", error, StringComparison.Ordinal);
        await client.SendAsync("SUBSCRIBE\nid:s\ndestination:/queue/stomp-bad.sel\nselector:color = 'red'\nreceipt:good\n\n\0");
        await client.ReadUntilAsync("receipt-id:good");
        await client.SendAsync("SEND\ndestination:/queue/stomp-bad.sel\ncolor:red\n\nselected\0");
        var message = await client.ReadFrameAsync();
        Assert.Equal("s", message["subscription"]);
        _broker.AssertNoErrors();
    }

    [Fact]
    public async Task Frames_before_connect_are_refused_with_not_connected()
    {
        await using var client = await RawStomp.ConnectAsync(_port, connect: false);
        await client.SendAsync("SEND\ndestination:/queue/x\nreceipt:early\n\nx\0");
        string error = await client.ReadUntilAsync("receipt-id:early");
        Assert.Contains("message:Not connected.", error, StringComparison.Ordinal);
    }

    private static async Task<string> ReadToCloseAsync(Socket socket)
    {
        var received = new StringBuilder();
        var buffer = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return received.ToString();
                }
                received.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
        catch (SocketException)
        {
            return received.ToString();
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the broker did not close the connection within 30 s; received:\n" + received);
        }
    }
}
