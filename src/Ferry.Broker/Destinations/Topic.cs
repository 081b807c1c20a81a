using Ferry.Broker.Storage;
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

    public Topic(Destination destination, TimeProvider time, MemoryUsage usage) : base(destination, time, usage) { }

    public override int ConsumerCount => Volatile.Read(ref _subscriptions).Count(s => s.IsActive);

    public IReadOnlyList<TopicSubscription> Subscriptions => Volatile.Read(ref _subscriptions);

    public override void Send(Message message)
    {
        var subscriptions = Volatile.Read(ref _subscriptions);
        if (subscriptions.Length > 1)
        {
            // Encode the header once for all subscribers instead of once per dispatch.
            message.SharedHeader ??= new();
        }
        foreach (var subscription in subscriptions)
        {
            subscription.Add(message);
        }
    }

    /// <summary>The durable subscriptions a persistent message must be stored for.</summary>
    public List<long>? DurableSubscriptionsFor(Message message)
    {
        List<long>? ids = null;
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            if (subscription.Durable is { } durable && subscription.Matches(message))
            {
                (ids ??= []).Add(durable.Id);
            }
        }
        return ids;
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

    public override void ExpireMessages()
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            subscription.ExpireMessages();
        }
    }
}

/// <summary>
/// A topic subscriber. It may cover several topics (wildcards, composite names). A non-durable one
/// lives with its consumer, and its pending list is bounded: past the bound the oldest pending message
/// is dropped (the named overflow policy for slow non-durable subscribers) and counted. A durable one
/// outlives its consumer and keeps every matching message until acknowledged.
/// </summary>
public sealed class TopicSubscription : Subscription
{
    private readonly object _gate = new();
    private readonly LinkedList<MessageReference> _pending = new();
    private readonly string[] _patterns;
    private readonly IDestinationHost _host;

    public TopicSubscription(ConsumerInfo info, IConsumerEndpoint? endpoint, IDestinationHost host, int maxPending, DurableSubscriptionInfo? durable = null)
        : base(info, endpoint ?? DetachedEndpoint.Instance, host.Time)
    {
        _host = host;
        Durable = durable;
        IsActive = endpoint is not null;
        MaxPending = durable is not null ? int.MaxValue : info.MaximumPendingMessageLimit > 0 ? info.MaximumPendingMessageLimit : maxPending;
        _patterns = info.Destination!.CompositeParts().Select(d => d.Name).ToArray();
    }

    public int MaxPending { get; }
    public long Dropped { get; private set; }
    public IReadOnlyList<string> Patterns => _patterns;
    public DurableSubscriptionInfo? Durable { get; }
    /// <summary>Whether a consumer is attached (always, for a non-durable subscription).</summary>
    public bool IsActive { get; private set; }

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
        if (!Matches(message))
        {
            return;
        }
        lock (_gate)
        {
            if (IsClosed && Durable is null)
            {
                return;
            }
            var reference = new MessageReference(message);
            _pending.AddLast(reference);
            Usage?.Increase(message.WindowSize);
            if (_pending.Count > MaxPending)
            {
                var oldest = _pending.First!.Value;
                _pending.RemoveFirst();
                Usage?.Decrease(oldest.Message.WindowSize);
                Dropped++;
            }
            PumpLocked();
        }
    }

    /// <summary>Puts back a message recovered from the store for this durable subscription.</summary>
    public void Recover(Message message)
    {
        lock (_gate)
        {
            _pending.AddLast(new MessageReference(message));
            Usage?.Increase(message.WindowSize);
        }
    }

    /// <summary>Attaches a (returning) consumer to a durable subscription.</summary>
    public void Activate(ConsumerInfo info, IConsumerEndpoint endpoint)
    {
        lock (_gate)
        {
            Rebind(info, endpoint);
            IsActive = true;
            PumpLocked();
        }
    }

    /// <summary>
    /// The consumer went away. A durable subscription keeps its messages (those in flight go back
    /// to the front, counted as redelivered); a non-durable one is dropped.
    /// </summary>
    public void Deactivate(bool abrupt, long lastDeliveredSequenceId)
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            IsActive = false;
            MarkClosed();
            var inFlight = TakeDispatched();
            if (Durable is null)
            {
                foreach (var reference in _pending.Concat(inFlight))
                {
                    Usage?.Decrease(reference.Message.WindowSize);
                }
                _pending.Clear();
                return;
            }
            int limit = _host.MaximumRedeliveries(Info.Destination!);
            for (int i = inFlight.Count - 1; i >= 0; i--)
            {
                var reference = inFlight[i];
                if (abrupt || lastDeliveredSequenceId == -2 || reference.Sequence <= lastDeliveredSequenceId)
                {
                    reference.RedeliveryCounter++;
                }
                if (limit >= 0 && reference.RedeliveryCounter > limit)
                {
                    Usage?.Decrease(reference.Message.WindowSize);
                    deferred.DeadLetter(reference, $"redelivery limit of {limit} exceeded");
                    continue;
                }
                _pending.AddFirst(reference);
            }
        }
        RunDeferred(deferred);
    }

    /// <summary>Drops everything (a non-durable consumer closed, or a durable subscription removed).</summary>
    public void Close()
    {
        lock (_gate)
        {
            MarkClosed();
            IsActive = false;
            foreach (var reference in _pending.Concat(TakeDispatched()))
            {
                Usage?.Decrease(reference.Message.WindowSize);
            }
            _pending.Clear();
        }
    }

    public void OnAcknowledge(MessageAck ack)
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            var removed = new List<MessageReference>();
            Acknowledge(ack, removed);
            foreach (var reference in removed)
            {
                Usage?.Decrease(reference.Message.WindowSize);
                deferred.Acknowledged(reference, ack);
            }
            PumpLocked();
        }
        RunDeferred(deferred);
    }

    public List<MessageReference> AcknowledgeInTransaction(MessageAck ack)
    {
        lock (_gate)
        {
            var covered = CoverInTransaction(ack);
            PumpLocked();
            return covered;
        }
    }

    public void CommitAcknowledged(List<MessageReference> references)
    {
        lock (_gate)
        {
            foreach (var reference in RemoveCommitted(references))
            {
                Usage?.Decrease(reference.Message.WindowSize);
            }
            PumpLocked();
        }
    }

    public void RollbackAcknowledged(int count)
    {
        lock (_gate)
        {
            ShrinkPrefetch(count);
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

    public void ExpireMessages()
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
            for (var node = _pending.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Message.IsExpired(now))
                {
                    _pending.Remove(node);
                    Usage?.Decrease(node.Value.Message.WindowSize);
                    deferred.Expired(node.Value);
                }
                node = next;
            }
        }
        RunDeferred(deferred);
    }

    private void RunDeferred(DeferredActions deferred)
    {
        // Store and dead-letter work names the message's own topic (a wildcard subscription spans many).
        deferred.RunPerMessage(_host, Durable?.Id);
    }

    private void PumpLocked()
    {
        if (!IsActive)
        {
            return;
        }
        long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        while (_pending.First is { } first && HasCredit)
        {
            _pending.RemoveFirst();
            var reference = first.Value;
            if (reference.Message.IsExpired(now))
            {
                Usage?.Decrease(reference.Message.WindowSize);
                _host.Expired(reference.Message.Destination!, reference, Durable?.Id);
                continue;
            }
            Deliver(reference);
        }
    }

    /// <summary>Where an inactive durable subscription's (non-existent) dispatches would go.</summary>
    private sealed class DetachedEndpoint : IConsumerEndpoint
    {
        public static readonly DetachedEndpoint Instance = new();

        public string ConnectionId => "";

        public bool Send(Ferry.Protocol.OpenWire.DataStructure command) => false;
    }
}
