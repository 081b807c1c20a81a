using Ferry.Client.Internal;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>
/// Sends messages. Like the ActiveMQ Java client, a send waits for the broker (sync) when it is persistent
/// and outside a transaction; non-persistent and transacted sends are one-way (async), unless
/// <see cref="ConnectionOptions.AlwaysSyncSend"/>; <see cref="ConnectionOptions.UseAsyncSend"/> makes every
/// send one-way. With a producer window, one-way sends wait while the broker has not acknowledged
/// (ProducerAck) that many bytes.
/// </summary>
public sealed class MessageProducer : IAsyncDisposable
{
    private readonly object _windowGate = new();
    private TaskCompletionSource _windowChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _windowUsed;
    private long _sequence;
    private int _closed;
    private int _priority = 4;

    internal MessageProducer(Session session, Wire.ProducerId id, Destination? destination)
    {
        Session = session;
        Id = id;
        Destination = destination;
    }

    /// <summary>The producer's destination; null for an anonymous producer.</summary>
    public Destination? Destination { get; }

    /// <summary>The delivery mode of sends that do not name one (default persistent).</summary>
    public DeliveryMode DeliveryMode { get; set; } = DeliveryMode.Persistent;

    /// <summary>The priority (0–9) of sends that do not name one (default 4).</summary>
    public int Priority
    {
        get => _priority;
        set => _priority = CheckPriority(value);
    }

    /// <summary>The time to live of sends that do not name one; zero (the default) = never expires.</summary>
    public TimeSpan TimeToLive { get; set; }

    internal Session Session { get; }
    internal Wire.ProducerId Id { get; }

    /// <summary>Sends <paramref name="message"/> to the producer's destination with the producer's defaults.</summary>
    public Task SendAsync(Message message, CancellationToken cancellationToken = default) =>
        SendCoreAsync(null, message, null, null, null, cancellationToken);

    /// <summary>Sends <paramref name="message"/> to the producer's destination, overriding the defaults given.</summary>
    public Task SendAsync(Message message, DeliveryMode? deliveryMode, int? priority = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default) =>
        SendCoreAsync(null, message, deliveryMode, priority, timeToLive, cancellationToken);

    /// <summary>Sends <paramref name="message"/> to <paramref name="destination"/> (anonymous producers only).</summary>
    public Task SendAsync(Destination destination, Message message, DeliveryMode? deliveryMode = null, int? priority = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return SendCoreAsync(destination, message, deliveryMode, priority, timeToLive, cancellationToken);
    }

    /// <summary>Removes the producer (RemoveInfo).</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        Session.Connection.Unregister(this);
        Session.Remove(this);
        OnProducerAck(0);
        try
        {
            await Session.Connection.SendAsync(new Wire.RemoveInfo { ObjectId = Id, LastDeliveredSequenceId = -2 }, cancellationToken);
        }
        catch (MessagingException)
        {
            // The connection failed: nothing to tell the broker.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CloseAsync();

    private async Task SendCoreAsync(Destination? destination, Message message, DeliveryMode? deliveryMode, int? priority, TimeSpan? timeToLive, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0 || Session.IsClosed, this);
        if (Destination is not null && destination is not null && !Destination.Equals(destination))
        {
            throw new InvalidOperationException($"This producer sends to {Destination}; use an anonymous producer to send to {destination}");
        }
        var target = destination ?? Destination ?? throw new InvalidOperationException("An anonymous producer needs a destination for each send");
        var connection = Session.Connection;
        var options = connection.Options;
        var mode = deliveryMode ?? DeliveryMode;
        int prio = CheckPriority(priority ?? Priority);
        var ttl = timeToLive ?? TimeToLive;
        long now = connection.Time.GetUtcNow().ToUnixTimeMilliseconds();

        var wire = MessageCodec.ToWire(message);
        wire.ProducerId = Id;
        wire.Destination = target.ToWire();
        wire.MessageId = new Wire.MessageId(Id, Interlocked.Increment(ref _sequence));
        wire.Persistent = mode == DeliveryMode.Persistent;
        wire.Priority = (byte)prio;
        wire.Timestamp = now;
        wire.Expiration = ttl > TimeSpan.Zero ? now + (long)ttl.TotalMilliseconds : 0;
        wire.TransactionId = await Session.EnsureTransactionAsync(cancellationToken);

        bool oneWay = !options.AlwaysSyncSend && options.SendTimeout <= TimeSpan.Zero
            && (!wire.Persistent || options.UseAsyncSend || wire.TransactionId is not null);
        if (oneWay)
        {
            if (options.ProducerWindowSize > 0)
            {
                await WaitForWindowAsync(wire.WindowSize, cancellationToken);
            }
            await connection.SendAsync(wire, cancellationToken);
        }
        else
        {
            await connection.RequestAsync(wire, $"Sending to {target}", cancellationToken,
                options.SendTimeout > TimeSpan.Zero ? options.SendTimeout : null);
        }

        message.SetMessageId(wire.MessageId);
        message.Destination = target;
        message.DeliveryMode = mode;
        message.Priority = prio;
        message.Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(now);
        message.Expiration = wire.Expiration == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(wire.Expiration);
    }

    /// <summary>Waits while the window is full (as ActiveMQ's producer window: one send may overshoot), then reserves <paramref name="size"/>.</summary>
    private async Task WaitForWindowAsync(int size, CancellationToken cancellationToken)
    {
        var options = Session.Connection.Options;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(options.SendTimeout > TimeSpan.Zero ? options.SendTimeout : options.RequestTimeout);
        while (true)
        {
            Task changed;
            lock (_windowGate)
            {
                if (_windowUsed < options.ProducerWindowSize)
                {
                    _windowUsed += size;
                    return;
                }
                changed = _windowChanged.Task;
            }
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0, this);
            Session.Connection.ThrowIfFailed();
            try
            {
                await changed.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new MessagingException($"The producer window stayed full (no ProducerAck from the broker) for {(options.SendTimeout > TimeSpan.Zero ? options.SendTimeout : options.RequestTimeout).TotalSeconds} s");
            }
        }
    }

    /// <summary>The broker accepted <paramref name="size"/> bytes of one-way sends (0 just wakes waiters).</summary>
    internal void OnProducerAck(int size)
    {
        TaskCompletionSource changed;
        lock (_windowGate)
        {
            _windowUsed = Math.Max(0, _windowUsed - size);
            changed = _windowChanged;
            _windowChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    private static int CheckPriority(int priority) => priority is >= 0 and <= 9
        ? priority
        : throw new ArgumentOutOfRangeException(nameof(priority), priority, "JMS priorities are 0 to 9");
}
