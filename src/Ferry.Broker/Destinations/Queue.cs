using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>
/// A point-to-point queue. Messages wait in priority then arrival order until a consumer with free
/// prefetch whose selector matches takes them. Consumers compete round-robin, unless one is
/// exclusive (then it alone receives) or a message belongs to a group (then the group's consumer
/// receives it). All state is guarded by one lock, held briefly: dispatches are queued to
/// connections without blocking, and store or dead-letter work runs after the lock is released.
/// </summary>
public sealed class Queue : BrokerDestination
{
    private readonly object _gate = new();
    private readonly SortedSet<MessageReference> _pending = new(MessageReference.ByPriorityThenSequence);
    private readonly List<QueueSubscription> _consumers = [];
    private readonly List<QueueBrowserSubscription> _browsers = [];
    private readonly Dictionary<string, QueueSubscription> _groups = new(StringComparer.Ordinal);
    private readonly IDestinationHost _host;
    private int _nextConsumer;

    public Queue(Destination destination, IDestinationHost host, MemoryUsage usage) : base(destination, host.Time, usage) => _host = host;

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
        var deferred = new DeferredActions();
        lock (_gate)
        {
            _pending.Add(new MessageReference(message));
            Usage.Increase(message.WindowSize);
            DispatchLocked(ref deferred);
        }
        deferred.Run(_host, Destination, null);
    }

    public void AddConsumer(QueueSubscription subscription)
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            _consumers.Add(subscription);
            // Higher consumer priority first; among equals, arrival order.
            _consumers.Sort(static (a, b) => b.Info.Priority.CompareTo(a.Info.Priority));
            DispatchLocked(ref deferred);
        }
        deferred.Run(_host, Destination, null);
    }

    public void AddBrowser(QueueBrowserSubscription browser)
    {
        lock (_gate)
        {
            // A browser sees what the queue holds now, in order, including messages in flight to others.
            var snapshot = new List<MessageReference>();
            foreach (var reference in _pending)
            {
                if (browser.Matches(reference.Message))
                {
                    snapshot.Add(reference);
                }
            }
            foreach (var consumer in _consumers)
            {
                snapshot.AddRange(consumer.Dispatched.Where(r => browser.Matches(r.Message)));
            }
            snapshot.Sort(MessageReference.ByPriorityThenSequence);
            browser.Start(snapshot, Now);
            _browsers.Add(browser);
        }
    }

    /// <summary>
    /// Removes a consumer; what it held unacknowledged returns to the queue. Messages the client had
    /// handed to the application (up to <paramref name="lastDeliveredSequenceId"/>; all of them when
    /// unknown, as after a dropped connection) count as redelivered; past the redelivery limit they go
    /// to the dead-letter queue.
    /// </summary>
    public void RemoveConsumer(Subscription subscription, long lastDeliveredSequenceId, bool abrupt)
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            subscription.MarkClosed();
            if (subscription is QueueBrowserSubscription browser)
            {
                _browsers.Remove(browser);
                return;
            }
            var queueSubscription = (QueueSubscription)subscription;
            _consumers.Remove(queueSubscription);
            foreach (var group in _groups.Where(g => g.Value == queueSubscription).Select(g => g.Key).ToList())
            {
                _groups.Remove(group);
            }
            int limit = _host.MaximumRedeliveries(Destination);
            var held = subscription.TakeDispatched();
            // As ActiveMQ: a clean close counts the messages up to the last one the application saw,
            // and only when that message itself is still unacknowledged (it was seen, not finished).
            bool lastStillHeld = held.Exists(r => r.Sequence == lastDeliveredSequenceId);
            foreach (var reference in held)
            {
                if (abrupt || lastDeliveredSequenceId == -2 || (lastStillHeld && reference.Sequence <= lastDeliveredSequenceId))
                {
                    reference.RedeliveryCounter++;
                }
                if (limit >= 0 && reference.RedeliveryCounter > limit)
                {
                    Usage.Decrease(reference.Message.WindowSize);
                    deferred.DeadLetter(reference, $"redelivery limit of {limit} exceeded");
                    continue;
                }
                _pending.Add(reference);
            }
            DispatchLocked(ref deferred);
        }
        deferred.Run(_host, Destination, null);
    }

    public void Acknowledge(Subscription subscription, MessageAck ack)
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            var removed = new List<MessageReference>();
            subscription.Acknowledge(ack, removed);
            if (subscription is QueueBrowserSubscription browser)
            {
                // Browsing never consumes: the ack only frees the browser's window.
                browser.Pump(Now);
                return;
            }
            foreach (var reference in removed)
            {
                Usage.Decrease(reference.Message.WindowSize);
                deferred.Acknowledged(reference, ack);
            }
            DispatchLocked(ref deferred);
        }
        deferred.Run(_host, Destination, null);
    }

    /// <summary>A transacted ack: the messages stay dispatched until commit, the window grows meanwhile.</summary>
    public List<MessageReference> AcknowledgeInTransaction(Subscription subscription, MessageAck ack)
    {
        var deferred = new DeferredActions();
        List<MessageReference> covered;
        lock (_gate)
        {
            covered = subscription.CoverInTransaction(ack);
            DispatchLocked(ref deferred);
        }
        deferred.Run(_host, Destination, null);
        return covered;
    }

    /// <summary>Applies a committed transaction's acks.</summary>
    public void CommitAcknowledged(Subscription subscription, List<MessageReference> references)
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            foreach (var reference in subscription.RemoveCommitted(references))
            {
                Usage.Decrease(reference.Message.WindowSize);
            }
            DispatchLocked(ref deferred);
        }
        deferred.Run(_host, Destination, null);
    }

    /// <summary>A rolled-back transaction's acks: the messages remain with the consumer, which redelivers them.</summary>
    public void RollbackAcknowledged(Subscription subscription, int count)
    {
        lock (_gate)
        {
            subscription.ShrinkPrefetch(count);
        }
    }

    public void Pull(Subscription subscription, MessagePull pull)
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            if (subscription.Prefetch > 0)
            {
                return;
            }
            subscription.AddPull(pull);
            DispatchLocked(ref deferred);
            if (subscription.PendingPull is not null && pull.Timeout == -1)
            {
                subscription.ExpirePull();
            }
        }
        deferred.Run(_host, Destination, null);
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
        var deferred = new DeferredActions();
        lock (_gate)
        {
            subscription.Prefetch = prefetch;
            DispatchLocked(ref deferred);
        }
        deferred.Run(_host, Destination, null);
    }

    /// <summary>Moves expired pending messages out (the periodic sweep; dispatch also skips them).</summary>
    public override void ExpireMessages()
    {
        var deferred = new DeferredActions();
        lock (_gate)
        {
            long now = Now;
            foreach (var reference in _pending.Where(r => r.Message.IsExpired(now)).ToList())
            {
                _pending.Remove(reference);
                Usage.Decrease(reference.Message.WindowSize);
                deferred.Expired(reference);
            }
        }
        deferred.Run(_host, Destination, null);
    }

    private void DispatchLocked(ref DeferredActions deferred)
    {
        if (_pending.Count == 0 || _consumers.Count == 0)
        {
            return;
        }
        long now = Now;
        var exclusive = _consumers.Find(static c => c.Info.Exclusive);
        // The common case takes messages off the head while they can go: no enumerator (a SortedSet's allocates
        // a stack per pass) and no list of what was taken.
        while (true)
        {
            if (_pending.Count == 0 || !AnyCredit(exclusive))
            {
                return;
            }
            var head = _pending.Min!;
            if (!TryDispatch(head, exclusive, now, ref deferred))
            {
                break; // the head waits (no consumer for it now): look past it
            }
            _pending.Remove(head);
        }
        List<MessageReference>? taken = null;
        foreach (var reference in _pending)
        {
            if (!AnyCredit(exclusive))
            {
                break;
            }
            if (TryDispatch(reference, exclusive, now, ref deferred))
            {
                (taken ??= []).Add(reference);
            }
        }
        if (taken is not null)
        {
            foreach (var reference in taken)
            {
                _pending.Remove(reference);
            }
        }
    }

    /// <summary>
    /// Delivers a pending message to the consumer it goes to, or drops it if it expired: true if it leaves the
    /// pending set (the caller removes it). False, with nothing changed, if no consumer can take it now.
    /// </summary>
    private bool TryDispatch(MessageReference reference, QueueSubscription? exclusive, long now, ref DeferredActions deferred)
    {
        var message = reference.Message;
        if (message.IsExpired(now))
        {
            Usage.Decrease(message.WindowSize);
            deferred.Expired(reference);
            return true;
        }
        QueueSubscription? target;
        bool firstInGroup = false;
        string? group = message.GroupId;
        if (group is not null && _groups.TryGetValue(group, out var owner))
        {
            target = owner.HasCredit && owner.Matches(message) ? owner : null;
        }
        else if (exclusive is not null)
        {
            target = exclusive.HasCredit && exclusive.Matches(message) ? exclusive : null;
        }
        else
        {
            target = NextConsumerFor(message);
        }
        if (target is null)
        {
            return false;
        }
        if (group is not null)
        {
            if (message.GroupSequence == -1)
            {
                // JMSXGroupSeq -1 closes the group.
                _groups.Remove(group);
            }
            else if (!_groups.ContainsKey(group))
            {
                _groups[group] = target;
                firstInGroup = true;
            }
        }
        target.Deliver(reference, firstInGroup);
        return true;
    }

    private bool AnyCredit(QueueSubscription? exclusive)
    {
        if (exclusive is not null)
        {
            return exclusive.HasCredit || _groups.Count > 0;
        }
        foreach (var consumer in _consumers)
        {
            if (consumer.HasCredit)
            {
                return true;
            }
        }
        return false;
    }

    private QueueSubscription? NextConsumerFor(Message message)
    {
        // Consumers are sorted by priority: only the highest priority level with credit competes.
        for (int i = 0; i < _consumers.Count; i++)
        {
            int index = (_nextConsumer + i) % _consumers.Count;
            var candidate = _consumers[index];
            if (candidate.HasCredit && candidate.Matches(message) && !HigherPriorityHasCredit(candidate, message))
            {
                _nextConsumer = (index + 1) % _consumers.Count;
                return candidate;
            }
        }
        return null;
    }

    private bool HigherPriorityHasCredit(QueueSubscription candidate, Message message)
    {
        foreach (var consumer in _consumers)
        {
            if (consumer.Info.Priority <= candidate.Info.Priority)
            {
                return false;
            }
            if (consumer.HasCredit && consumer.Matches(message))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Puts back a message recovered from the store at start-up (no store write).</summary>
    public void Recover(Message message)
    {
        lock (_gate)
        {
            _pending.Add(new MessageReference(message));
            Usage.Increase(message.WindowSize);
        }
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
