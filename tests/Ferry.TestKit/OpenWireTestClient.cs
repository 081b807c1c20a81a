using System.Collections.Concurrent;
using System.Threading.Channels;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.TestKit;

/// <summary>
/// A bare OpenWire client for tests that need to see individual commands: it speaks through the
/// same channel and codec the broker uses and exposes what arrives. Not the product client.
/// </summary>
public sealed class OpenWireTestClient : IAsyncDisposable
{
    private readonly OpenWireChannel _channel;
    private readonly Task _run;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<Response>> _pending = new();
    private readonly Channel<MessageDispatch> _dispatches = Channel.CreateUnbounded<MessageDispatch>();
    private readonly TaskCompletionSource<BrokerInfo> _brokerInfo = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _commandId;
    private long _producerSeq;

    private OpenWireTestClient(IDuplexConnection connection, WireFormatOptions wireFormat, ConnectionId? connectionId)
    {
        _channel = new OpenWireChannel(connection, wireFormat, new OpenWireChannelOptions(), TimeProvider.System, NullLogger.Instance);
        _run = _channel.RunAsync(OnCommand, CancellationToken.None);
        ConnectionId = connectionId ?? new ConnectionId($"ID:test-{Guid.NewGuid():N}:1");
        SessionId = new SessionId(ConnectionId.Value!, 1);
    }

    public ConnectionId ConnectionId { get; }
    public SessionId SessionId { get; }
    public List<DataStructure> Received { get; } = [];
    public Task Completion => _run;
    public string? CloseReason => _channel.CloseReason;

    public static async Task<OpenWireTestClient> ConnectAsync(string host, int port, WireFormatOptions? wireFormat = null)
    {
        var tcp = await TcpConnection.ConnectAsync(host, port, TimeSpan.FromSeconds(10), CancellationToken.None);
        return await StartAsync(tcp, wireFormat);
    }

    public static async Task<OpenWireTestClient> StartAsync(IDuplexConnection connection, WireFormatOptions? wireFormat = null, string? clientId = null, ConnectionId? connectionId = null)
    {
        var client = new OpenWireTestClient(connection, wireFormat ?? new WireFormatOptions(), connectionId);
        await client._brokerInfo.Task.WaitAsync(TimeSpan.FromSeconds(10));
        EnsureOk(await client.RequestAsync(new ConnectionInfo
        {
            ConnectionId = client.ConnectionId,
            ClientId = clientId ?? client.ConnectionId.Value,
            Manageable = true,
            ClientMaster = true,
        }));
        client.Send(new SessionInfo { SessionId = client.SessionId });
        return client;
    }

    private ValueTask OnCommand(DataStructure command)
    {
        lock (Received)
        {
            Received.Add(command);
        }
        switch (command)
        {
            case BrokerInfo info:
                _brokerInfo.TrySetResult(info);
                break;
            case Response response when _pending.TryRemove(response.CorrelationId, out var waiter):
                waiter.TrySetResult(response);
                break;
            case MessageDispatch dispatch:
                _dispatches.Writer.TryWrite(dispatch);
                break;
        }
        return ValueTask.CompletedTask;
    }

    public void Send(Command command)
    {
        command.CommandId = Interlocked.Increment(ref _commandId);
        _channel.Send(command);
    }

    /// <summary>Sends with responseRequired and waits (bounded) for the Response or ExceptionResponse.</summary>
    public async Task<Response> RequestAsync(Command command, TimeSpan? timeout = null)
    {
        command.CommandId = Interlocked.Increment(ref _commandId);
        command.ResponseRequired = true;
        var waiter = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[command.CommandId] = waiter;
        _channel.Send(command);
        var answered = waiter.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
        if (await Task.WhenAny(answered, _run) != answered && !answered.IsCompleted)
        {
            throw new IOException($"connection closed before the response to command {command.CommandId}: {_channel.CloseReason}");
        }
        return await answered;
    }

    public async Task<ConsumerId> SubscribeAsync(Destination destination, int prefetch = 1000, long consumerValue = 1, bool browser = false)
    {
        var id = new ConsumerId(ConnectionId.Value!, SessionId.Value, consumerValue);
        var response = await RequestAsync(new ConsumerInfo { ConsumerId = id, Destination = destination, PrefetchSize = prefetch, Browser = browser, DispatchAsync = true });
        EnsureOk(response);
        return id;
    }

    public async Task<ProducerId> AddProducerAsync(Destination? destination, long producerValue = 1, int windowSize = 0)
    {
        var id = new ProducerId(ConnectionId.Value!, SessionId.Value, producerValue);
        EnsureOk(await RequestAsync(new ProducerInfo { ProducerId = id, Destination = destination, WindowSize = windowSize }));
        return id;
    }

    public static Message TextMessage(ProducerId producer, long sequence, Destination destination, string text)
    {
        var bytes = new byte[4 + Ferry.Protocol.OpenWire.Marshalling.ModifiedUtf8.GetByteCount(text)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length - 4);
        Ferry.Protocol.OpenWire.Marshalling.ModifiedUtf8.Encode(text, bytes.AsSpan(4));
        return new Message(DataTypes.TextMessage)
        {
            ProducerId = producer,
            Destination = destination,
            MessageId = new MessageId(producer, sequence),
            Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Content = bytes,
            Persistent = false,
        };
    }

    public static string TextOf(Message message)
    {
        var content = message.Content ?? throw new InvalidOperationException("no body");
        return Ferry.Protocol.OpenWire.Marshalling.ModifiedUtf8.Decode(content.AsSpan(4));
    }

    /// <summary>Sends a text message synchronously (responseRequired) and checks the broker accepted it.</summary>
    public async Task SendTextAsync(ProducerId producer, Destination destination, string text, bool persistent = false)
    {
        var message = TextMessage(producer, Interlocked.Increment(ref _producerSeq), destination, text);
        message.Persistent = persistent;
        EnsureOk(await RequestAsync(message));
    }

    public async Task<MessageDispatch> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await _dispatches.Reader.ReadAsync(cts.Token);
    }

    public bool TryReceive(out MessageDispatch? dispatch) => _dispatches.Reader.TryRead(out dispatch);

    public void Ack(MessageDispatch dispatch, AckType type = AckType.Standard) => Send(new MessageAck
    {
        AckType = type,
        ConsumerId = dispatch.ConsumerId,
        Destination = dispatch.Destination,
        FirstMessageId = dispatch.Message!.MessageId,
        LastMessageId = dispatch.Message.MessageId,
        MessageCount = 1,
    });

    public static void EnsureOk(Response response)
    {
        if (response is ExceptionResponse error)
        {
            throw new InvalidOperationException($"broker refused: {error.Exception}");
        }
    }

    public async Task CloseAsync()
    {
        await RequestAsync(new RemoveInfo { ObjectId = ConnectionId, LastDeliveredSequenceId = -1 });
        Send(new ShutdownInfo());
        await DisposeAsync();
    }

    /// <summary>Drops the connection without any goodbye, like a crashed client.</summary>
    public void Abort() => _channel.Abort("test abort");

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        try
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }
    }
}
