using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Protocol.Transport;

/// <summary>
/// A TCP socket exposed as two pipes. Reads and writes are asynchronous socket operations;
/// no thread is held per connection. The pipe's pause threshold is the back-pressure on a fast sender.
/// </summary>
public sealed class TcpConnection : IDuplexConnection
{
    // Pipe thresholds: a reader that falls this far behind stops the socket reads (back-pressure).
    // Zero-byte reads: an idle connection waits for data without holding a rented 64 KiB buffer
    // (that buffer was most of an idle connection's memory: ~79 KB each at 10,000 connections).
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 64 * 1024, minimumReadSize: 4096, leaveOpen: true, useZeroByteReads: true);
    private static readonly StreamPipeWriterOptions WriterOptions = new(minimumBufferSize: 16 * 1024, leaveOpen: true);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private int _disposed;
    private volatile bool _aborted;

    public TcpConnection(Socket socket, bool noDelay = true)
    {
        _socket = socket;
        _socket.NoDelay = noDelay;
        _stream = new NetworkStream(socket, ownsSocket: false);
        Input = PipeReader.Create(_stream, ReaderOptions);
        Output = PipeWriter.Create(_stream, WriterOptions);
        RemoteAddress = socket.RemoteEndPoint?.ToString() ?? "?";
        LocalAddress = socket.LocalEndPoint?.ToString() ?? "?";
    }

    public PipeReader Input { get; }
    public PipeWriter Output { get; }
    public string RemoteAddress { get; }
    public string LocalAddress { get; }

    public static async Task<TcpConnection> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (IPAddress.TryParse(host, out var address))
            {
                if (address.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.Dispose();
                    socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                }
                await socket.ConnectAsync(new IPEndPoint(address, port), cts.Token);
            }
            else
            {
                await socket.ConnectAsync(host, port, cts.Token);
            }
            return new TcpConnection(socket);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"Connecting to {host}:{port} timed out after {timeout.TotalSeconds:0.#} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Abort()
    {
        _aborted = true;
        try
        {
            _socket.LingerState = new LingerOption(true, 0);
            _socket.Close(0);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await Input.CompleteAsync();
            // After an abort nothing more is sent: completing with an error skips the final flush.
            await Output.CompleteAsync(_aborted ? new IOException("connection aborted") : null);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The peer or an abort closed the socket first; there is nothing left to flush to.
        }
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
