using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Sockets;
using Ferry.Protocol.Stomp;

namespace Ferry.Host.Bench;

/// <summary>
/// A minimal STOMP 1.2 client for the bench (the same client against ActiveMQ's STOMP connector and
/// Ferry's): one socket as two pipes, frames through <see cref="StompWriter"/> and <see cref="StompParser"/>.
/// No heart-beats; a sync send asks for a receipt and waits for it.
/// </summary>
internal sealed class StompBenchClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly StompParser _parser = new();
    private long _receipts;

    private StompBenchClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream);
        _output = PipeWriter.Create(_stream);
    }

    public static async Task<StompBenchClient> ConnectAsync(string url, CancellationToken cancellationToken)
    {
        var uri = new Uri(url);
        if (uri.Port <= 0)
        {
            throw new ArgumentException($"a STOMP URL needs a port: {url}");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(uri.Host, uri.Port, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var client = new StompBenchClient(socket);
        try
        {
            await client.WriteAsync(new StompFrame(StompCommands.Connect,
                new("accept-version", "1.2"), new("host", uri.Host), new("heart-beat", "0,0")), cancellationToken);
            var connected = await client.ReadFrameAsync(cancellationToken);
            if (connected.Command != StompCommands.Connected)
            {
                throw new InvalidOperationException($"STOMP broker answered CONNECT with {connected.Command}: {connected["message"]}");
            }
            client._parser.Version = StompVersions.TryParse(connected["version"], out var version) ? version : StompVersion.V10;
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public static async Task<IBenchSender> CreateSenderAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var client = await ConnectAsync(options.Url, cancellationToken);
        var sender = new Sender(client, StompDestination(options), options);
        if (options.TransactedBatch > 0)
        {
            await sender.BeginAsync(cancellationToken);
        }
        return sender;
    }

    public static async Task<IBenchReceiver> CreateReceiverAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        if (options.TransactedBatch > 0)
        {
            throw new ArgumentException("--transacted consumers are OpenWire only");
        }
        var client = await ConnectAsync(options.Url, cancellationToken);
        var headers = new List<KeyValuePair<string, string>> { new("id", "0"), new("destination", StompDestination(options)), new("ack", "auto") };
        if (options.Prefetch is int prefetch)
        {
            headers.Add(new("activemq.prefetchSize", prefetch.ToString(CultureInfo.InvariantCulture)));
        }
        // A receipt, so the subscription exists once this returns (a topic producer may start right after).
        await client.RequestAsync("SUBSCRIBE", headers, ReadOnlyMemory<byte>.Empty, cancellationToken);
        return new Receiver(client);
    }

    private static string StompDestination(BenchOptions options) => (options.IsTopic ? "/topic/" : "/queue/") + options.DestinationName;

    private async Task WriteAsync(StompFrame frame, CancellationToken cancellationToken)
    {
        StompWriter.Write(frame, _parser.Version, _output, addContentLength: frame.Body.Length > 0);
        var flushed = await _output.FlushAsync(cancellationToken);
        if (flushed.IsCompleted)
        {
            throw new IOException("the STOMP broker closed the connection");
        }
    }

    /// <summary>Writes a frame with a receipt header and waits for its RECEIPT.</summary>
    private async Task RequestAsync(string command, List<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        string id = (++_receipts).ToString(CultureInfo.InvariantCulture);
        headers.Add(new("receipt", id));
        await WriteAsync(new StompFrame(command, headers, body), cancellationToken);
        while (true)
        {
            var frame = await ReadFrameAsync(cancellationToken);
            if (frame.Command == "RECEIPT" && frame["receipt-id"] == id)
            {
                return;
            }
        }
    }

    /// <summary>The next frame; an ERROR frame or a closed connection throws.</summary>
    private async ValueTask<StompFrame> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (_parser.TryReadFrame(ref buffer, out var frame))
            {
                // Consumed up to the frame's end, nothing examined beyond: the next frame may already be here.
                _input.AdvanceTo(buffer.Start);
                return frame!.Command == "ERROR"
                    ? throw new InvalidOperationException($"STOMP broker sent ERROR: {frame["message"]} {System.Text.Encoding.UTF8.GetString(frame.Body.Span)}".TrimEnd())
                    : frame;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new IOException("the STOMP broker closed the connection");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        await _stream.DisposeAsync();
        _socket.Dispose();
    }

    private sealed class Sender(StompBenchClient client, string destination, BenchOptions options) : IBenchSender
    {
        private readonly string _persistent = options.Persistent ? "true" : "false";
        private int _transaction;

        private string Transaction => "tx" + _transaction.ToString(CultureInfo.InvariantCulture);

        public Task BeginAsync(CancellationToken cancellationToken)
        {
            _transaction++;
            return client.WriteAsync(new StompFrame("BEGIN", new KeyValuePair<string, string>("transaction", Transaction)), cancellationToken);
        }

        public Task SendAsync(byte[] body, long sentMicros, CancellationToken cancellationToken)
        {
            var headers = new List<KeyValuePair<string, string>>(5)
            {
                new("destination", destination),
                new("persistent", _persistent),
                new(BenchClients.SentProperty, sentMicros.ToString(CultureInfo.InvariantCulture)),
            };
            if (options.TransactedBatch > 0)
            {
                headers.Add(new("transaction", Transaction));
            }
            return options.SyncSends
                ? client.RequestAsync(StompCommands.Send, headers, body, cancellationToken)
                : client.WriteAsync(new StompFrame(StompCommands.Send, headers, body), cancellationToken);
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            await client.RequestAsync("COMMIT", [new("transaction", Transaction)], ReadOnlyMemory<byte>.Empty, cancellationToken);
            await BeginAsync(cancellationToken);
        }

        // STOMP handles a connection's frames in order: a receipt for DISCONNECT covers every send before it.
        public Task DrainAsync(CancellationToken cancellationToken) =>
            client.RequestAsync("DISCONNECT", [], ReadOnlyMemory<byte>.Empty, cancellationToken);

        public ValueTask DisposeAsync() => client.DisposeAsync();
    }

    private sealed class Receiver(StompBenchClient client) : IBenchReceiver
    {
        public async ValueTask<BenchReceipt?> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                while (true)
                {
                    var frame = await client.ReadFrameAsync(deadline.Token);
                    if (frame.Command == StompCommands.Message)
                    {
                        long sent = long.TryParse(frame[BenchClients.SentProperty], NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) ? s : 0;
                        return new BenchReceipt(frame.Body.Length, sent);
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return null;
            }
        }

        public Task CommitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        // Auto-acked messages already written are consumed; this stops the broker writing more.
        public Task StopAsync(CancellationToken cancellationToken) =>
            client.RequestAsync("UNSUBSCRIBE", [new("id", "0")], ReadOnlyMemory<byte>.Empty, cancellationToken);

        public ValueTask DisposeAsync() => client.DisposeAsync();
    }
}
