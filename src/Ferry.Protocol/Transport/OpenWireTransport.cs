using System.Collections.Concurrent;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Protocol.Transport;

/// <summary>A single <c>tcp://</c> link: it lives and dies with its socket (see FailoverTransport for more).</summary>
public sealed class OpenWireTransport : IOpenWireTransport
{
    private readonly TcpTransportOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<Response>> _pending = new();
    private readonly TaskCompletionSource<BrokerInfo> _brokerInfo = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private OpenWireChannel? _channel;
    private Task _run = Task.CompletedTask;
    private int _commandId;
    private int _failed;

    public OpenWireTransport(TcpTransportOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    public Func<Command, ValueTask>? OnCommand { get; set; }
    public event EventHandler<TransportEventArgs>? Interrupted;
    /// <summary>Never raised: a plain link does not come back (the failover transport does).</summary>
    public event EventHandler<TransportEventArgs>? Resumed
    {
        add { }
        remove { }
    }
    public event EventHandler<TransportEventArgs>? Failed;
    public BrokerInfo? BrokerInfo { get; private set; }
    public string? RemoteAddress { get; private set; }
    public bool IsFaultTolerant => false;
    public string Address => $"{_options.Scheme}://{_options.Host}:{_options.Port}";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var tcp = await TcpConnection.ConnectAsync(_options.Host, _options.Port, _options.ConnectionTimeout, cancellationToken);
        RemoteAddress = Address;
        _channel = new OpenWireChannel(tcp, _options.WireFormat with { Host = _options.Host },
            new OpenWireChannelOptions
            {
                HandshakeTimeout = _options.ConnectionTimeout,
                // A client's own sends wait for room rather than dropping the connection.
                MaxPendingOutputBytes = _options.MaxPendingOutputBytes,
                Overflow = OutputOverflow.Wait,
            }, _time, _logger);
        _run = RunAsync(_channel);
        try
        {
            BrokerInfo = await _brokerInfo.Task.WaitAsync(_options.ConnectionTimeout, _time, cancellationToken);
        }
        catch
        {
            await _channel.DisposeAsync();
            throw;
        }
    }

    private async Task RunAsync(OpenWireChannel channel)
    {
        try
        {
            await channel.RunAsync(OnReceivedAsync, _stop.Token);
        }
        finally
        {
            Fail(channel.CloseReason ?? "closed");
        }
    }

    private async ValueTask OnReceivedAsync(DataStructure received)
    {
        switch (received)
        {
            case WireFormatInfo:
                return;
            case BrokerInfo info:
                BrokerInfo = info;
                _brokerInfo.TrySetResult(info);
                break;
            case Response response:
                if (_pending.TryRemove(response.CorrelationId, out var waiter))
                {
                    waiter.TrySetResult(response);
                }
                else if (OnUnmatchedResponse is { } unmatched)
                {
                    await unmatched(response);
                }
                return;
        }
        if (received is Command command && OnCommand is { } handler)
        {
            await handler(command);
        }
    }

    public async Task<Response> RequestAsync(Command command, CancellationToken cancellationToken)
    {
        var channel = Open();
        await channel.WaitForRoomAsync(cancellationToken);
        command.CommandId = Interlocked.Increment(ref _commandId);
        command.ResponseRequired = true;
        var waiter = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[command.CommandId] = waiter;
        if (!channel.Send(command))
        {
            _pending.TryRemove(command.CommandId, out _);
            throw new TransportClosedException($"Connection to {Address} is closed: {channel.CloseReason}");
        }
        try
        {
            return await waiter.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _pending.TryRemove(command.CommandId, out _);
        }
    }

    public ValueTask SendAsync(Command command, CancellationToken cancellationToken)
    {
        var channel = Open();
        var room = channel.WaitForRoomAsync(cancellationToken);
        if (!room.IsCompletedSuccessfully)
        {
            return SendAfterRoomAsync(channel, room, command);
        }
        Send(channel, command);
        return ValueTask.CompletedTask;
    }

    private async ValueTask SendAfterRoomAsync(OpenWireChannel channel, ValueTask room, Command command)
    {
        await room;
        Send(channel, command);
    }

    private void Send(OpenWireChannel channel, Command command)
    {
        command.CommandId = Interlocked.Increment(ref _commandId);
        if (!channel.Send(command))
        {
            throw new TransportClosedException($"Connection to {Address} is closed: {channel.CloseReason}");
        }
    }

    /// <summary>Waits while this link's output is over its limit (returns at once if the link is closed).</summary>
    internal ValueTask WaitForRoomAsync(CancellationToken cancellationToken) =>
        _channel is { } channel ? channel.WaitForRoomAsync(cancellationToken) : ValueTask.CompletedTask;

    /// <summary>
    /// Receives responses that no <see cref="RequestAsync"/> of this link waits for: the failover
    /// transport numbers and correlates its own commands (see <see cref="SendPrepared"/>).
    /// </summary>
    internal Func<Response, ValueTask>? OnUnmatchedResponse { get; set; }

    /// <summary>
    /// Queues <paramref name="command"/> exactly as given (its command id and responseRequired are
    /// kept), for the failover transport, which replays commands with their original ids.
    /// Returns false if the link is closed. Never blocks.
    /// </summary>
    internal bool SendPrepared(Command command) => _channel is { IsClosed: false } channel && channel.Send(command);

    private OpenWireChannel Open() =>
        _channel is { IsClosed: false } channel ? channel : throw new TransportClosedException($"Connection to {Address} is closed");

    private void Fail(string reason)
    {
        if (Interlocked.Exchange(ref _failed, 1) != 0)
        {
            return;
        }
        RemoteAddress = null;
        var error = new TransportClosedException($"Connection to {Address} lost: {reason}");
        _brokerInfo.TrySetException(error);
        foreach (var waiter in _pending.Values)
        {
            waiter.TrySetException(error);
        }
        _pending.Clear();
        Interrupted?.Invoke(this, new TransportEventArgs(Address, reason));
        Failed?.Invoke(this, new TransportEventArgs(Address, reason));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_channel is not null)
        {
            await _channel.DisposeAsync();
        }
        try
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(5), _time);
        }
        catch (TimeoutException)
        {
        }
        _stop.Dispose();
    }
}
