using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;

namespace Ferry.Broker.Connections;

/// <summary>
/// A WebSocket as a byte stream in each direction, so STOMP runs over it exactly as over TCP.
/// Text and binary messages are both read as bytes; output goes out as text messages when it is
/// valid UTF-8 (what browsers' STOMP clients expect) and as binary otherwise.
/// </summary>
internal sealed class WebSocketConnection : Protocol.Transport.IDuplexConnection
{
    private readonly WebSocket _socket;
    private readonly Pipe _input = new(new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
    private readonly Pipe _output = new(new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
    private readonly CancellationTokenSource _aborted = new();
    private readonly Task _receiving;
    private readonly Task _sending;
    private int _disposed;

    public WebSocketConnection(WebSocket socket, string remoteAddress, string localAddress)
    {
        _socket = socket;
        RemoteAddress = remoteAddress;
        LocalAddress = localAddress;
        _receiving = ReceiveLoopAsync();
        _sending = SendLoopAsync();
    }

    public PipeReader Input => _input.Reader;
    public PipeWriter Output => _output.Writer;
    public string RemoteAddress { get; }
    public string LocalAddress { get; }

    /// <summary>Completes when both directions are done (the HTTP request must live that long).</summary>
    public Task Completion => Task.WhenAll(_receiving, _sending);

    private async Task ReceiveLoopAsync()
    {
        var writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory(8192);
                var result = await _socket.ReceiveAsync(memory, _aborted.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                writer.Advance(result.Count);
                var flush = await writer.FlushAsync(_aborted.Token);
                if (flush.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            error = ex is OperationCanceledException ? null : new IOException(ex.Message, ex);
        }
        await writer.CompleteAsync(error);
    }

    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_aborted.Token);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    bool text = System.Text.Unicode.Utf8.IsValid(segment.Span);
                    await _socket.SendAsync(segment, text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, true, _aborted.Token);
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer went away or we aborted: nothing more can be sent.
        }
        await reader.CompleteAsync();
        _aborted.Cancel();
    }

    public void Abort()
    {
        _aborted.Cancel();
        try
        {
            _socket.Abort();
        }
        catch (ObjectDisposedException)
        {
            // The request already ended and disposed the socket.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _input.Reader.CompleteAsync();
        await _output.Writer.CompleteAsync();
        try
        {
            await _sending.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            _socket.Abort();
        }
        _aborted.Cancel();
        await _receiving;
        // _aborted is not disposed: Abort may run on a timer thread at any moment, and a
        // CancellationTokenSource without a timeout holds nothing that needs disposing.
    }
}
