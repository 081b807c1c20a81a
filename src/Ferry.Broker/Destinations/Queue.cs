using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>
/// A point-to-point queue: messages wait in broker order until a consumer with free prefetch takes
/// them; consumers compete round-robin. All state is guarded by one lock, held briefly; dispatches
/// are queued to connections without blocking, so the lock is never held across I/O.
/// </summary>
public sealed class Queue : BrokerDestination
{
    private readonly object _gate = new();
    private readonly SortedSet<MessageReference> _pending = new(MessageReference.BySequence);
    private readonly List<QueueSubscription> _consumers = [];
    private readonly List<QueueBrowserSubscription> _browsers = [];
    private readonly Action<MessageReference, string> _deadLetter;
    private int _nextConsumer;

    public Queue(Destination destination, TimeProvider time, Action<MessageReference, string> deadLetter) : base(destination, time)
        => _deadLetter = deadLetter;

    public override int ConsumerCount
    {
        get
        {
            lock (_gate)
            {
                return _consumers.Count;
            }
        }
    }

    /// <summary>Messages waiting for a consumer (not counting those dispatched and unacknowledged).</summary>
    public int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    public override void Send(Message message)
    {
        lock (_gate)
        {
            _pending.Add(new MessageReference(message));
            DispatchLocked();
        }
    }

    public void AddConsumer(QueueSubscription subscription)
    {
        lock (_gate)
        {
            _consumers.Add(subscription);
            DispatchLocked();
        }
    }

    public void AddBrowser(QueueBrowserSubscription browser)
    {
        lock (_gate)
        {
            // A browser sees what the queue holds now, in order, including messages in flight to others.
            var snapshot = new List<MessageReference>(_pending);
            foreach (var consumer in _consumers)
            {
                snapshot.AddRange(consumer.Dispatched);
            }
            snapshot.Sort(MessageReference.BySequence);
            browser.Start(snapshot, Now);
            _browsers.Add(browser);
        }
    }

    /// <summary>
    /// Removes a consumer; what it held unacknowledged returns to the queue. Messages the client had
    /// handed to the application (up to <paramref name="lastDeliveredSequenceId"/>; all of them when
    /// unknown, as after a dropped connection) count as redelivered.
    /// </summary>
    public void RemoveConsumer(Subscription subscription, long lastDeliveredSequenceId, bool abrupt)
    {
        lock (_gate)
        {
            subscription.MarkClosed();
            if (subscription is QueueBrowserSubscription browser)
            {
                _browsers.Remove(browser);
                return;
            }
            _consumers.Remove((QueueSubscription)subscription);
            foreach (var reference in subscription.TakeDispatched())
            {
                if (abrupt || lastDeliveredSequenceId == -2 || reference.Sequence <= lastDeliveredSequenceId)
                {
                    reference.RedeliveryCounter++;
                }
                _pending.Add(reference);
            }
            DispatchLocked();
        }
    }

    public void Acknowledge(Subscription subscription, MessageAck ack)
    {
        var removed = new List<MessageReference>();
        lock (_gate)
        {
            subscription.Acknowledge(ack, removed);
            if (subscription is QueueBrowserSubscription browser)
            {
                // Browsing never consumes: the ack only frees the browser's window.
                browser.Pump(Now);
                return;
            }
            DispatchLocked();
        }
        if (ack.AckType == AckType.Poison)
        {
            // Outside the lock: the dead-letter queue takes its own.
            foreach (var reference in removed)
            {
                _deadLetter(reference, ack.PoisonCause?.Message ?? "poison acknowledgement");
            }
        }
    }

    public void Pull(Subscription subscription, MessagePull pull)
    {
        lock (_gate)
        {
            if (subscription.Prefetch > 0)
            {
                return;
            }
            subscription.AddPull(pull);
            DispatchLocked();
            if (subscription.PendingPull is not null && pull.Timeout == -1)
            {
                subscription.ExpirePull();
            }
        }
    }

    /// <summary>Called by the pull timer: answers a pull still unanswered with an empty dispatch.</summary>
    public void ExpirePull(Subscription subscription, MessagePull pull)
    {
        lock (_gate)
        {
            if (ReferenceEquals(subscription.PendingPull, pull))
            {
                subscription.ExpirePull();
            }
        }
    }

    public void ChangePrefetch(Subscription subscription, int prefetch)
    {
        lock (_gate)
        {
            subscription.Prefetch = prefetch;
            DispatchLocked();
        }
    }

    private void DispatchLocked()
    {
        long now = Now;
        while (_pending.Count > 0 && _consumers.Count > 0)
        {
            var next = _pending.Min!;
            if (next.Message.IsExpired(now))
            {
                _pending.Remove(next);
                continue;
            }
            var consumer = NextConsumerWithCredit();
            if (consumer is null)
            {
                return;
            }
            _pending.Remove(next);
            consumer.Deliver(next);
        }
    }

    private QueueSubscription? NextConsumerWithCredit()
    {
        for (int i = 0; i < _consumers.Count; i++)
        {
            var candidate = _consumers[(_nextConsumer + i) % _consumers.Count];
            if (candidate.HasCredit)
            {
                _nextConsumer = (_nextConsumer + i + 1) % _consumers.Count;
                return candidate;
            }
        }
        return null;
    }
}

public sealed class QueueSubscription : Subscription
{
    public QueueSubscription(ConsumerInfo info, IConsumerEndpoint endpoint, TimeProvider time) : base(info, endpoint, time) { }
}

/// <summary>A QueueBrowser: gets a snapshot of the queue, then an empty dispatch marking the end.</summary>
public sealed class QueueBrowserSubscription : Subscription
{
    private readonly Queue<MessageReference> _toBrowse = new();
    private bool _endSent;

    public QueueBrowserSubscription(ConsumerInfo info, IConsumerEndpoint endpoint, TimeProvider time) : base(info, endpoint, time)
    {
        if (Prefetch <= 0)
        {
            Prefetch = 1;
        }
    }

    public void Start(List<MessageReference> snapshot, long now)
    {
        foreach (var reference in snapshot)
        {
            _toBrowse.Enqueue(reference);
        }
        Pump(now);
    }

    public void Pump(long now)
    {
        while (_toBrowse.Count > 0 && HasCredit)
        {
            var reference = _toBrowse.Dequeue();
            if (!reference.Message.IsExpired(now))
            {
                // A browser's view is a copy: browsing does not move the message.
                Deliver(new MessageReference(reference.Message) { RedeliveryCounter = reference.RedeliveryCounter });
            }
        }
        if (_toBrowse.Count == 0 && !_endSent)
        {
            _endSent = true;
            Endpoint.Send(new MessageDispatch { ConsumerId = Id });
        }
    }
}
