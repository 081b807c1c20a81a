using System.IO.Pipelines;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ferry.Protocol.Transport;

/// <summary>What a channel's output does when more than its limit of bytes is queued.</summary>
public enum OutputOverflow
{
    /// <summary>The peer is a slow consumer: the connection is dropped (a broker dispatching must never wait for one client).</summary>
    Disconnect,
    /// <summary>Senders that call <see cref="ChannelOutput{T}.WaitForRoomAsync"/> wait until the queue drains to half the limit (a client's own sends).</summary>
    Wait,
}

/// <summary>
/// The output half and the lifetime every protocol channel shares: a queue that never blocks the
/// sender but bounds its bytes (past the limit, by <see cref="OutputOverflow"/>, the peer is a slow
/// consumer and is dropped, or senders wait for room), one
/// write loop that encodes queued items back to back and flushes once the queue is empty or enough
/// is buffered, a graceful close that drains the queue (bounded), and an abort that drops it.
/// </summary>
public sealed partial class ChannelOutput<T> where T : class
{
    private readonly IDuplexConnection _connection;
    private readonly long _maxPendingBytes;
    private readonly int _flushThresholdBytes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<T, long> _estimateSize;
    private readonly Channel<T> _queue = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _closing = new(); // never disposed, see DisposeAsync
    private Task _writer = Task.CompletedTask;
    private readonly object _roomGate = new();
    private TaskCompletionSource? _room; // set while a sender waits for room; guarded by _roomGate
    private long _pendingBytes;
    private string? _closeReason;

    public ChannelOutput(IDuplexConnection connection, long maxPendingBytes, int flushThresholdBytes, TimeProvider time, ILogger logger, Func<T, long> estimateSize)
    {
        _connection = connection;
        _maxPendingBytes = maxPendingBytes;
        _flushThresholdBytes = flushThresholdBytes;
        _time = time;
        _logger = logger;
        _estimateSize = estimateSize;
    }

    public string? CloseReason => Volatile.Read(ref _closeReason);
    public bool IsClosed => CloseReason is not null;

    /// <summary>Cancelled once the channel closes or aborts: the read loop stops.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Called on every flush (keep-alive bookkeeping).</summary>
    public Action? Flushed { get; init; }

    /// <summary>What happens past the limit of pending bytes (default: the peer is dropped).</summary>
    public OutputOverflow Overflow { get; init; } = OutputOverflow.Disconnect;

    /// <summary>Bytes queued and not yet written (estimated by the owner's size function).</summary>
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);

    private long ResumeBytes => _maxPendingBytes / 2;

    /// <summary>Starts the write loop; <paramref name="write"/> encodes one item into the output pipe.</summary>
    public void Start(Action<T, PipeWriter> write) => _writer = Task.Run(() => WriteLoopAsync(write));

    /// <summary>
    /// Queues an item; never blocks. False once closed, or (<see cref="OutputOverflow.Disconnect"/>) when
    /// it made the peer a slow consumer. With <see cref="OutputOverflow.Wait"/> the limit is the
    /// caller's to respect through <see cref="WaitForRoomAsync"/>.
    /// </summary>
    public bool Enqueue(T item)
    {
        if (IsClosed)
        {
            return false;
        }
        if (Interlocked.Add(ref _pendingBytes, _estimateSize(item)) > _maxPendingBytes && Overflow == OutputOverflow.Disconnect)
        {
            Abort($"slow consumer: more than {_maxPendingBytes} bytes of output pending");
            return false;
        }
        return _queue.Writer.TryWrite(item);
    }

    /// <summary>
    /// Completes at once (no allocation) while the queue is within its limit or the output is closed;
    /// past the limit it waits until the write loop has drained the queue to half the limit, the
    /// output closes, or <paramref name="cancellationToken"/> fires. Back-pressure for
    /// <see cref="OutputOverflow.Wait"/>; with Disconnect it never waits.
    /// </summary>
    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        if (Overflow == OutputOverflow.Disconnect || Interlocked.Read(ref _pendingBytes) <= _maxPendingBytes || IsClosed)
        {
            return ValueTask.CompletedTask;
        }
        return WaitForRoomSlowAsync(cancellationToken);
    }

    private async ValueTask WaitForRoomSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task room;
            lock (_roomGate)
            {
                _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                room = _room.Task;
            }
            // Registered first, then checked: the write loop drains, then looks for a waiter, so one of us sees the other.
            Interlocked.MemoryBarrier();
            if (Interlocked.Read(ref _pendingBytes) <= ResumeBytes || IsClosed)
            {
                WakeSenders();
                return;
            }
            await room.WaitAsync(cancellationToken);
        }
    }

    private void WakeSenders()
    {
        TaskCompletionSource? room;
        lock (_roomGate)
        {
            room = _room;
            _room = null;
        }
        room?.TrySetResult();
    }

    private async Task WriteLoopAsync(Action<T, PipeWriter> write)
    {
        var output = _connection.Output;
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var item))
                {
                    write(item, output);
                    if (Interlocked.Add(ref _pendingBytes, -_estimateSize(item)) <= ResumeBytes && Volatile.Read(ref _room) is not null)
                    {
                        WakeSenders();
                    }
                    if (output.UnflushedBytes >= _flushThresholdBytes)
                    {
                        await FlushAsync(output);
                    }
                }
                await FlushAsync(output);
            }
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            Abort("write failed: " + ex.Message);
        }
#pragma warning disable CA1031 // last resort: the reason is recorded and the connection closed
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // A fault in a protocol's encoder must not leave a connection that queues until it is a slow consumer.
            Abort($"write failed: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            WakeSenders();
        }
    }

    private async ValueTask FlushAsync(PipeWriter output)
    {
        Flushed?.Invoke();
        var flush = await output.FlushAsync();
        if (flush.IsCompleted || flush.IsCanceled)
        {
            throw new IOException(flush.IsCanceled ? "connection aborted" : "peer stopped reading");
        }
    }

    /// <summary>
    /// Runs a channel's read loop (given the token that stops it) and ends the channel the same way
    /// for every protocol: bad input goes to <paramref name="onProtocolError"/>, a stop or a dead
    /// transport is recorded as the close reason, and the output is drained in all cases.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task> readLoop, Action<ProtocolException> onProtocolError, Action onEnd, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        var token = linked.Token;
        try
        {
            await readLoop(token);
        }
        catch (ProtocolException ex)
        {
            onProtocolError(ex);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            SetCloseReason(cancellationToken.IsCancellationRequested ? "shutting down" : "closed");
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            SetCloseReason("transport error: " + ex.Message);
        }
        catch (InvalidOperationException) when (IsClosed)
        {
            // Disposed while the read loop was between reads: the pipe reader is already completed.
        }
        finally
        {
            onEnd();
            await CompleteAsync();
        }
    }

    /// <summary>Records why the channel ends; only the first reason counts. True if this call set it.</summary>
    public bool SetCloseReason(string reason) => Interlocked.CompareExchange(ref _closeReason, reason, null) is null;

    /// <summary>Stops reading, sends what is queued (bounded by a few seconds), then closes.</summary>
    public void Close(string reason)
    {
        if (SetCloseReason(reason))
        {
            _queue.Writer.TryComplete();
            _closing.Cancel();
            WakeSenders();
        }
    }

    /// <summary>Drops the connection without sending what is queued.</summary>
    public void Abort(string reason)
    {
        if (SetCloseReason(reason))
        {
            LogAborted(_logger, _connection.RemoteAddress, reason);
            _queue.Writer.TryComplete();
            _closing.Cancel();
            // Release a write loop parked on back-pressure from a peer that stopped reading.
            _connection.Output.CancelPendingFlush();
            _connection.Abort();
            WakeSenders();
        }
    }

    /// <summary>No more items: the write loop finishes what is queued, bounded at 5 s (then the socket is dropped).</summary>
    public async Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(TimeSpan.FromSeconds(5), _time);
        }
        catch (TimeoutException)
        {
            _connection.Abort();
        }
    }

    /// <summary>Closes (if not yet), drains, then disposes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        SetCloseReason("disposed");
        _closing.Cancel();
        WakeSenders();
        await CompleteAsync();
        await _connection.DisposeAsync();
        // _closing is not disposed: a timer (heart-beat, inactivity) may still be aborting on another
        // thread, and a CancellationTokenSource without a timeout holds nothing that needs disposing.
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Aborting connection from {Remote}: {Reason}")]
    private static partial void LogAborted(ILogger logger, string remote, string reason);
}
