using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Ferry.Protocol.Stomp;

namespace Ferry.IntegrationTests.Stomp;

/// <summary>A bare STOMP connection over a socket, for exact frames; every read is bounded (30 s).</summary>
internal sealed class RawStomp : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly MemoryStream _received = new();
    private readonly StompParser _parser = new() { Version = StompVersion.V12 };

    private RawStomp(Socket socket) => _socket = socket;

    public static async Task<RawStomp> ConnectAsync(int port, bool connect = true)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", port);
        var client = new RawStomp(socket);
        if (connect)
        {
            await client.SendAsync("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0");
            await client.ReadUntilAsync("CONNECTED");
        }
        return client;
    }

    public Task SendAsync(string frame) => SendAsync(Encoding.UTF8.GetBytes(frame));

    public Task SendAsync(byte[] frame) => _socket.SendAsync(frame);

    /// <summary>Reads until <paramref name="fragment"/> has arrived; returns and forgets everything read so far.</summary>
    public async Task<string> ReadUntilAsync(string fragment)
    {
        while (!Text().Contains(fragment, StringComparison.Ordinal))
        {
            await ReceiveAsync($"'{fragment}'");
        }
        string all = Text();
        _received.SetLength(0);
        return all;
    }

    /// <summary>The next whole frame (heart-beats skipped).</summary>
    public async Task<StompFrame> ReadFrameAsync()
    {
        while (true)
        {
            var buffer = new ReadOnlySequence<byte>(_received.ToArray());
            if (_parser.TryReadFrame(ref buffer, out var frame))
            {
                var rest = buffer.ToArray();
                _received.SetLength(0);
                _received.Write(rest);
                return frame!;
            }
            await ReceiveAsync("a frame");
        }
    }

    private string Text() => Encoding.UTF8.GetString(_received.GetBuffer(), 0, (int)_received.Length);

    private async Task ReceiveAsync(string what)
    {
        var buffer = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int n;
        try
        {
            n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no {what} within 30 s; received:\n{Text()}");
        }
        if (n == 0)
        {
            throw new IOException($"connection closed before {what}; received:\n{Text()}");
        }
        _received.Write(buffer, 0, n);
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
