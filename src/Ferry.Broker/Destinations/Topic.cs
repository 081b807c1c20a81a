using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>
/// A publish/subscribe topic: each message goes to every matching subscription, each of which
/// keeps its own pending list and prefetch window. The subscriber list is copy-on-write, so a
/// publish takes no topic lock.
/// </summary>
public sealed class Topic : BrokerDestination
{
    private readonly object _gate = new();
    private TopicSubscription[] _subscriptions = [];

    public Topic(Destination destination, TimeProvider time) : base(destination, time) { }

    public override int ConsumerCount => Volatile.Read(ref _subscriptions).Length;

    public override void Send(Message message)
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            subscription.Add(message);
        }
    }

    public void Attach(TopicSubscription subscription)
    {
        lock (_gate)
        {
            if (Array.IndexOf(_subscriptions, subscription) < 0)
            {
                _subscriptions = [.. _subscriptions, subscription];
            }
        }
    }

    public void Detach(TopicSubscription subscription)
    {
        lock (_gate)
        {
            _subscriptions = _subscriptions.Where(s => s != subscription).ToArray();
        }
    }
}

/// <summary>
/// A non-durable topic subscriber. It may cover several topics (wildcards, composite names).
/// Its pending list is bounded; past the bound the oldest pending message is dropped (the named
/// overflow policy for slow non-durable subscribers) and counted.
/// </summary>
public sealed class TopicSubscription : Subscription
{
    private readonly object _gate = new();
    private readonly Queue<MessageReference> _pending = new();
    private readonly string[] _patterns;

    public TopicSubscription(ConsumerInfo info, IConsumerEndpoint endpoint, TimeProvider time, int maxPending) : base(info, endpoint, time)
    {
        MaxPending = info.MaximumPendingMessageLimit > 0 ? info.MaximumPendingMessageLimit : maxPending;
        _patterns = info.Destination!.CompositeParts().Select(d => d.Name).ToArray();
    }

    public int MaxPending { get; }
    public long Dropped { get; private set; }
    public IReadOnlyList<string> Patterns => _patterns;

    public bool Matches(string topicName)
    {
        foreach (var pattern in _patterns)
        {
            if (DestinationFilter.Matches(pattern, topicName))
            {
                return true;
            }
        }
        return false;
    }

    public void Add(Message message)
    {
        if (!Accepts(message))
        {
            return;
        }
        lock (_gate)
        {
            if (IsClosed)
            {
                return;
            }
            _pending.Enqueue(new MessageReference(message));
            if (_pending.Count > MaxPending)
            {
                _pending.Dequeue();
                Dropped++;
            }
            PumpLocked();
        }
    }

    public void OnAcknowledge(MessageAck ack)
    {
        var removed = new List<MessageReference>();
        lock (_gate)
        {
            Acknowledge(ack, removed);
            PumpLocked();
        }
    }

    public void OnPull(MessagePull pull)
    {
        lock (_gate)
        {
            AddPull(pull);
            PumpLocked();
            if (PendingPull is not null && pull.Timeout == -1)
            {
                ExpirePull();
            }
        }
    }

    public void OnPullTimeout(MessagePull pull)
    {
        lock (_gate)
        {
            if (ReferenceEquals(PendingPull, pull))
            {
                ExpirePull();
            }
        }
    }

    public void OnPrefetchChange(int prefetch)
    {
        lock (_gate)
        {
            Prefetch = prefetch;
            PumpLocked();
        }
    }

    public void Close()
    {
        lock (_gate)
        {
            MarkClosed();
            _pending.Clear();
            TakeDispatched();
        }
    }

    private void PumpLocked()
    {
        long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        while (_pending.Count > 0 && HasCredit)
        {
            var next = _pending.Dequeue();
            if (!next.Message.IsExpired(now))
            {
                Deliver(next);
            }
        }
    }
}
