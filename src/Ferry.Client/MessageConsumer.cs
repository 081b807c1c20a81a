using System.Runtime.CompilerServices;
using Ferry.Client.Internal;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>
/// Receives messages from one destination: pull them with <see cref="ReceiveAsync(CancellationToken)"/>
/// or <see cref="ReadAllAsync"/>, or push them to a callback with <see cref="SetMessageListener"/> (not both).
/// The broker prefetches up to the prefetch size; messages wait until the connection is started.
/// </summary>
public sealed partial class MessageConsumer : IAsyncDisposable
{
    private static readonly AsyncLocal<MessageConsumer?> CurrentListener = new();

    private readonly object _gate = new();
    private readonly LinkedList<Delivery> _unconsumed = new();
    private readonly List<Delivery> _delivered = [];
    private readonly List<Delivery> _awaitingDeliveredAck = [];
    private readonly Wire.ConsumerInfo _info;
    private readonly DuplicateAudit _audit;
    // Created by a receiver about to wait, completed and dropped by the next change: a dispatch that
    // nobody waits for allocates nothing and wakes nobody.
    private TaskCompletionSource? _changed;
    private long _lastDeliveredSequenceId = -1;
    private bool _pullOutstanding;
    private bool _pullEmpty;
    private int _closed;
    private Task _listenerTask = Task.CompletedTask;
    private CancellationTokenSource? _listenerStop;
    private bool _hasListener;

    internal MessageConsumer(Session session, Wire.ConsumerId id, Destination destination, Wire.ConsumerInfo info)
    {
        Session = session;
        Id = id;
        Destination = destination;
        _info = info;
        _audit = new DuplicateAudit(session.Connection.Options.AuditDepth, session.Connection.Options.AuditMaximumProducerNumber);
    }

    /// <summary>The destination consumed from.</summary>
    public Destination Destination { get; }

    /// <summary>The JMS selector, if any.</summary>
    public string? Selector => _info.Selector;

    /// <summary>The durable subscription name, for a durable consumer.</summary>
    public string? SubscriptionName => _info.SubscriptionName;

    internal Session Session { get; }
    internal Wire.ConsumerId Id { get; }
    private Connection Connection => Session.Connection;
    private bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Waits for the next message. Returns null only when the consumer is closed.</summary>
    /// <exception cref="MessagingException">The connection failed.</exception>
    public async ValueTask<Message?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfListening();
        var next = await NextAsync(pullTimeout: 0, cancellationToken);
        if (next is not { } delivered)
        {
            return null;
        }
        await AfterConsumedAsync(delivered.Delivery);
        return delivered.Message;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the next message; null if none came (or the consumer closed).</summary>
    public async ValueTask<Message?> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ThrowIfListening();
        // A message already prefetched needs no timer.
        while (TakeReady() is { } ready)
        {
            if (await DeliverAsync(ready) is { } message)
            {
                await AfterConsumedAsync(ready);
                return message;
            }
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bool pulling = _info.PrefetchSize == 0;
        // A pulling consumer lets the broker answer "nothing" (a null dispatch); the local timer only backs it up.
        limit.CancelAfter(pulling ? timeout + TimeSpan.FromSeconds(5) : timeout);
        try
        {
            long pullTimeout = timeout <= TimeSpan.Zero ? -1 : Math.Max(1, (long)timeout.TotalMilliseconds);
            var next = await NextAsync(pullTimeout, limit.Token);
            if (next is not { } delivered)
            {
                return null;
            }
            await AfterConsumedAsync(delivered.Delivery);
            return delivered.Message;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The messages as an async stream, until the consumer is closed or <paramref name="cancellationToken"/> is cancelled.</summary>
    public async IAsyncEnumerable<Message> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await ReceiveAsync(cancellationToken) is { } message)
        {
            yield return message;
        }
    }

    /// <summary>
    /// Delivers messages to <paramref name="listener"/>, one at a time, from a background task (null stops it).
    /// In auto and dups-ok modes a message is acknowledged when the listener returns; if it throws, the
    /// message is delivered again (marked redelivered) up to the redelivery limit.
    /// </summary>
    public void SetMessageListener(Func<Message, CancellationToken, ValueTask>? listener)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        _listenerStop?.Cancel();
        if (listener is null)
        {
            _hasListener = false;
            return;
        }
        _hasListener = true;
        var stop = new CancellationTokenSource();
        _listenerStop = stop;
        var previous = _listenerTask;
        _listenerTask = Task.Run(async () =>
        {
            await previous.ConfigureAwait(false);
            await ListenAsync(listener, stop.Token);
        }, CancellationToken.None);
    }

    /// <summary>
    /// Closes the consumer (RemoveInfo); prefetched messages not delivered go back to the broker. In a
    /// transacted session with an open transaction that holds messages this consumer delivered, it stops
    /// delivering at once but leaves the broker only when the transaction ends, so the commit still consumes
    /// those messages (JMS; the Java client does the same).
    /// </summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        _listenerStop?.Cancel();
        Wake();
        if (CurrentListener.Value != this)
        {
            try
            {
                await _listenerTask.WaitAsync(Connection.Options.CloseTimeout, cancellationToken);
            }
            catch (TimeoutException)
            {
            }
        }
        bool holdsTransactedMessages;
        lock (_gate)
        {
            holdsTransactedMessages = _delivered.Count > 0;
        }
        if (Session.AcknowledgeMode == AcknowledgeMode.Transacted && holdsTransactedMessages && Session.CloseAfterTransaction(this))
        {
            return;
        }
        await LeaveAsync(cancellationToken);
    }

    /// <summary>Tells the broker the consumer is gone and forgets it; its undelivered prefetched messages go back.</summary>
    internal async Task LeaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (Session.AcknowledgeMode == AcknowledgeMode.DupsOk)
            {
                await AcknowledgeDeliveredAsync(Wire.AckType.Standard, null, cancellationToken);
            }
            lock (_gate)
            {
                _unconsumed.Clear();
            }
            await Connection.SendAsync(new Wire.RemoveInfo { ObjectId = Id, LastDeliveredSequenceId = Interlocked.Read(ref _lastDeliveredSequenceId) }, cancellationToken);
        }
        catch (MessagingException)
        {
            // The connection failed: the broker cleans up by itself.
        }
        finally
        {
            Connection.Unregister(this);
            Session.Remove(this);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CloseAsync();

    internal void CloseLocally()
    {
        Interlocked.Exchange(ref _closed, 1);
        _listenerStop?.Cancel();
        Connection.Unregister(this);
        Session.Remove(this);
        Wake();
    }

    internal void Wake()
    {
        TaskCompletionSource? changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = null;
        }
        changed?.TrySetResult();
    }

    /// <summary>Called on the transport's read loop for each MessageDispatch to this consumer; never blocks.</summary>
    internal async ValueTask OnDispatchAsync(Wire.MessageDispatch dispatch)
    {
        if (dispatch.Message is null)
        {
            // The end of a pull that found nothing.
            lock (_gate)
            {
                _pullOutstanding = false;
                _pullEmpty = true;
            }
            Wake();
            return;
        }
        var delivery = new Delivery(this, dispatch);
        if (_audit.IsDuplicate(delivery.MessageId))
        {
            bool held;
            lock (_gate)
            {
                held = _unconsumed.Any(d => d.MessageId!.Equals(delivery.MessageId)) || _delivered.Any(d => d.MessageId!.Equals(delivery.MessageId));
                _pullOutstanding = false;
            }
            if (!held)
            {
                // Delivered and acknowledged before (the ack was lost with a failed link): remove it for good.
                await SendAckAsync(Wire.AckType.Individual, null, delivery, 1, null, CancellationToken.None);
            }
            return;
        }
        lock (_gate)
        {
            if (IsClosed)
            {
                return;
            }
            _pullOutstanding = false;
            _unconsumed.AddLast(delivery);
        }
        Wake();
    }

    /// <summary>A prefetched message if one is waiting (and the connection is started), without waiting.</summary>
    private Delivery? TakeReady()
    {
        lock (_gate)
        {
            return IsClosed ? null : TakeReadyLocked();
        }
    }

    /// <summary>Under <see cref="_gate"/>: the first prefetched message if the connection is started; throws if it failed.</summary>
    private Delivery? TakeReadyLocked()
    {
        Connection.ThrowIfFailed();
        if (Connection.IsStarted && _unconsumed.First is { } first)
        {
            _unconsumed.RemoveFirst();
            return first.Value;
        }
        return null;
    }

    /// <summary>The next message, delivered (and counted for acks) but not yet acknowledged; null when closed.</summary>
    private async ValueTask<(Delivery Delivery, Message Message)?> NextAsync(long pullTimeout, CancellationToken cancellationToken)
    {
        while (true)
        {
            Delivery? delivery = null;
            Task changed;
            bool pull = false;
            lock (_gate)
            {
                if (IsClosed)
                {
                    return null;
                }
                delivery = TakeReadyLocked();
                if (delivery is null && _pullEmpty)
                {
                    _pullEmpty = false;
                    if (pullTimeout != 0)
                    {
                        return null;
                    }
                }
                changed = delivery is null ? (_changed ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task : Task.CompletedTask;
                if (delivery is null && _info.PrefetchSize == 0 && Connection.IsStarted && !_pullOutstanding)
                {
                    _pullOutstanding = pull = true;
                }
            }
            if (delivery is not null)
            {
                if (await DeliverAsync(delivery) is { } message)
                {
                    return (delivery, message);
                }
                continue;
            }
            if (pull)
            {
                // Not cancellable: a pull marked outstanding must really have been sent.
                await Connection.SendAsync(new Wire.MessagePull { ConsumerId = Id, Destination = _info.Destination, Timeout = pullTimeout }, CancellationToken.None);
            }
            await changed.WaitAsync(cancellationToken);
        }
    }

    private async Task ListenAsync(Func<Message, CancellationToken, ValueTask> listener, CancellationToken stop)
    {
        CurrentListener.Value = this;
        while (!stop.IsCancellationRequested)
        {
            (Delivery Delivery, Message Message)? next;
            try
            {
                next = await NextAsync(0, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (MessagingException)
            {
                return;
            }
            if (next is not { } delivered)
            {
                return;
            }
            try
            {
                await listener(delivered.Message, stop);
            }
#pragma warning disable CA1031 // the application's exception is handled as the Java client does: redelivery
            catch (Exception) when (Session.AcknowledgeMode is AcknowledgeMode.Auto or AcknowledgeMode.DupsOk)
#pragma warning restore CA1031
            {
                await SafelyAsync(() => new ValueTask(RedeliverLocallyAsync(CancellationToken.None)));
                continue;
            }
#pragma warning disable CA1031
            catch (Exception)
#pragma warning restore CA1031
            {
                // Client, individual and transacted sessions decide themselves (recover, rollback).
            }
            await SafelyAsync(() => AfterConsumedAsync(delivered.Delivery));
        }
    }

    private static async Task SafelyAsync(Func<ValueTask> action)
    {
        try
        {
            await action();
        }
        catch (MessagingException)
        {
            // The connection failed; the loop ends at the next receive.
        }
    }

    private void ThrowIfListening()
    {
        if (_hasListener)
        {
            throw new InvalidOperationException("This consumer has a message listener; it cannot also be read");
        }
    }
}
