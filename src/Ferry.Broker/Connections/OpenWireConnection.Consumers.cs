using Ferry.Broker.Advisory;
using Ferry.Broker.Destinations;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Connections;

public sealed partial class OpenWireConnection
{
    /// <summary>A consumer of this connection and where its subscription lives.</summary>
    private sealed class ConsumerState(ConsumerInfo info, Subscription subscription, Queue? queue)
    {
        public ConsumerInfo Info { get; } = info;
        public Subscription Subscription { get; } = subscription;
        /// <summary>The queue for queue consumers and browsers; null for topic subscribers.</summary>
        public Queue? Queue { get; } = queue;
        public ITimer? PullTimer { get; set; }
    }

    private async ValueTask OnConsumerInfoAsync(ConsumerInfo info)
    {
        RequireConnected();
        var id = info.ConsumerId ?? throw new BrokerException("ConsumerInfo without a consumer id");
        var destination = info.Destination ?? throw new BrokerException(JmsErrors.InvalidDestination, "ConsumerInfo without a destination");
        if (_consumers.ContainsKey(id))
        {
            throw new BrokerException($"Consumer {id} already exists");
        }
        if (destination.IsTemporary)
        {
            foreach (var part in destination.CompositeParts())
            {
                if (!_broker.TempDestinationExists(part))
                {
                    throw new BrokerException(JmsErrors.InvalidDestination, $"Cannot consume from a deleted temporary destination: {part}");
                }
            }
        }

        ConsumerState state;
        if (destination.IsQueue)
        {
            if (destination.IsComposite || destination.IsWildcard)
            {
                throw new BrokerException(JmsErrors.InvalidDestination, $"Composite and wildcard queue consumers are not supported yet: {destination}");
            }
            var queue = _broker.Destinations.GetOrCreateQueue(destination);
            if (info.Browser)
            {
                var browser = new QueueBrowserSubscription(info, this, _broker.Time);
                state = new ConsumerState(info, browser, queue);
                _consumers[id] = state;
                queue.AddBrowser(browser);
                return;
            }
            var subscription = new QueueSubscription(info, this, _broker.Time);
            state = new ConsumerState(info, subscription, queue);
            _consumers[id] = state;
            queue.AddConsumer(subscription);
        }
        else
        {
            if (info.SubscriptionName is not null)
            {
                state = await AttachDurableAsync(info);
                _consumers[id] = state;
                _broker.Advisories.ConsumerChanged(destination, info, _broker.ConsumerCountOf(destination.CompositeParts().First()));
                return;
            }
            var subscription = new TopicSubscription(info, this, _broker, _broker.Options.TopicSubscriberMaxPending)
            {
                Usage = _broker.TopicUsage(destination),
            };
            state = new ConsumerState(info, subscription, null);
            _consumers[id] = state;
            _broker.Destinations.Subscribe(subscription);
            if (subscription.Patterns.Any(p => p.StartsWith(AdvisoryPublisher.Prefix, StringComparison.Ordinal) || p.StartsWith("ActiveMQ.>", StringComparison.Ordinal) || p == ">"))
            {
                _broker.Advisories.Replay(subscription);
            }
        }
        if (!AdvisoryPublisher.IsAdvisory(destination))
        {
            _broker.Advisories.ConsumerChanged(destination, info, _broker.ConsumerCountOf(destination.CompositeParts().First()));
        }
    }

    private void RemoveConsumer(ConsumerId id, long lastDeliveredSequenceId, bool abrupt)
    {
        if (!_consumers.TryRemove(id, out var state))
        {
            return;
        }
        state.PullTimer?.Dispose();
        if (state.Queue is { } queue)
        {
            queue.RemoveConsumer(state.Subscription, lastDeliveredSequenceId, abrupt);
        }
        else if (state.Subscription is TopicSubscription { Durable: not null } durable)
        {
            // Unless a reconnect of this client already took the subscription over.
            if (durable.Endpoint == this)
            {
                durable.Deactivate(abrupt, lastDeliveredSequenceId);
            }
        }
        else
        {
            _broker.Destinations.Unsubscribe((TopicSubscription)state.Subscription);
        }
        var destination = state.Info.Destination!;
        if (!AdvisoryPublisher.IsAdvisory(destination) && !state.Info.Browser)
        {
            _broker.Advisories.ConsumerChanged(destination, new RemoveInfo { ObjectId = id, LastDeliveredSequenceId = lastDeliveredSequenceId },
                _broker.ConsumerCountOf(destination.CompositeParts().First()));
        }
    }

    private void OnAck(MessageAck ack)
    {
        RequireConnected();
        if (ack.ConsumerId is null || !_consumers.TryGetValue(ack.ConsumerId, out var state))
        {
            // The consumer is already gone (closed while the ack was in flight): its messages were requeued.
            return;
        }
        if (ack.TransactionId is not null && ack.AckType is AckType.Standard or AckType.Individual)
        {
            AcknowledgeInTransaction(state, ack);
            return;
        }
        if (state.Queue is { } queue)
        {
            queue.Acknowledge(state.Subscription, ack);
        }
        else
        {
            ((TopicSubscription)state.Subscription).OnAcknowledge(ack);
        }
    }

    /// <summary>
    /// An acknowledgement the protocol layer makes itself, outside the read loop: STOMP auto-ack, just
    /// before a MESSAGE frame is written. Only non-transacted acks, which touch nothing of this
    /// connection but the (concurrent) consumer map and the destination, under its own lock.
    /// </summary>
    internal void AcknowledgeFromProtocol(MessageAck ack)
    {
        if (ack.TransactionId is not null)
        {
            throw new InvalidOperationException("transacted acks must go through the read loop");
        }
        try
        {
            OnAck(ack);
        }
        catch (BrokerException ex)
        {
            // Nobody waits for this ack's answer: say why it was refused rather than drop it unseen.
            LogRefusedCommand(_logger, RemoteAddress, nameof(MessageAck), ex.Message);
        }
    }

    private void OnPull(MessagePull pull)
    {
        RequireConnected();
        if (pull.ConsumerId is null || !_consumers.TryGetValue(pull.ConsumerId, out var state))
        {
            return;
        }
        if (state.Subscription.Prefetch > 0)
        {
            return;
        }
        state.PullTimer?.Dispose();
        state.PullTimer = null;
        var topic = state.Subscription as TopicSubscription;
        if (state.Queue is { } queue)
        {
            queue.Pull(state.Subscription, pull);
        }
        else
        {
            topic!.OnPull(pull);
        }
        if (pull.Timeout > 0 && state.Subscription.PendingPull is not null)
        {
            state.PullTimer = _broker.Time.CreateTimer(_ =>
            {
                if (state.Queue is { } q)
                {
                    q.ExpirePull(state.Subscription, pull);
                }
                else
                {
                    topic!.OnPullTimeout(pull);
                }
            }, null, TimeSpan.FromMilliseconds(pull.Timeout), Timeout.InfiniteTimeSpan);
        }
    }

    private void OnConsumerControl(ConsumerControl control)
    {
        if (control.ConsumerId is null || !_consumers.TryGetValue(control.ConsumerId, out var state) || control.Close)
        {
            return;
        }
        if (state.Queue is { } queue)
        {
            queue.ChangePrefetch(state.Subscription, control.Prefetch);
        }
        else
        {
            ((TopicSubscription)state.Subscription).OnPrefetchChange(control.Prefetch);
        }
    }

    /// <summary>
    /// Attaches a consumer to its durable subscription (client id + name), creating it on first use.
    /// A subscription whose topic or selector changed is replaced, losing what it held, as JMS says.
    /// </summary>
    private async ValueTask<ConsumerState> AttachDurableAsync(ConsumerInfo info)
    {
        string clientId = _info!.ClientId!;
        var destination = info.Destination!;
        string key = Storage.DurableSubscriptionInfo.KeyOf(clientId, info.SubscriptionName!);
        var existing = _broker.Destinations.FindDurable(key);
        if (existing is not null)
        {
            if (existing.IsActive && existing.Endpoint != this && existing.Endpoint.ConnectionId == ConnectionId)
            {
                // Still held by this client's stale connection (replaced by a reconnect): take it back.
                existing.Deactivate(abrupt: true, lastDeliveredSequenceId: -2);
            }
            if (existing.IsActive)
            {
                throw new BrokerException(JmsErrors.JmsException, $"Durable consumer is in use for client: {clientId} and subscriptionName: {info.SubscriptionName}");
            }
            var d = existing.Durable!;
            if (d.Destination.Equals(destination) && string.Equals(d.Selector ?? "", info.Selector ?? "", StringComparison.Ordinal) && d.NoLocal == info.NoLocal)
            {
                existing.Activate(info, this);
                return new ConsumerState(info, existing, null);
            }
            await _broker.Store.StoreAsync(new Storage.StoreBatch(new Storage.RemoveDurableSubscription(d.Id)), _connectionClosed.Token);
            _broker.Destinations.RemoveDurable(existing);
        }
        var durable = new Storage.DurableSubscriptionInfo(_broker.NextSubscriptionId(), clientId, info.SubscriptionName!, destination,
            string.IsNullOrWhiteSpace(info.Selector) ? null : info.Selector, info.NoLocal);
        var subscription = new TopicSubscription(info, this, _broker, _broker.Options.TopicSubscriberMaxPending, durable)
        {
            Usage = _broker.TopicUsage(destination),
        };
        await _broker.Store.StoreAsync(new Storage.StoreBatch(new Storage.AddDurableSubscription(durable)), _connectionClosed.Token);
        _broker.Destinations.AddDurable(subscription);
        return new ConsumerState(info, subscription, null);
    }

    private async ValueTask OnRemoveSubscriptionAsync(RemoveSubscriptionInfo info)
    {
        RequireConnected();
        string key = Storage.DurableSubscriptionInfo.KeyOf(info.ClientId ?? _info!.ClientId!, info.SubscriptionName ?? "");
        var subscription = _broker.Destinations.FindDurable(key)
            ?? throw new BrokerException(JmsErrors.InvalidDestination, $"No durable subscription {info.SubscriptionName} for client {info.ClientId}");
        if (subscription.IsActive)
        {
            throw new BrokerException(JmsErrors.JmsException, "Durable consumer is in use");
        }
        await _broker.Store.StoreAsync(new Storage.StoreBatch(new Storage.RemoveDurableSubscription(subscription.Durable!.Id)), _connectionClosed.Token);
        _broker.Destinations.RemoveDurable(subscription);
    }
}
