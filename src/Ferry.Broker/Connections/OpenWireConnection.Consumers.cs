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

    private void OnConsumerInfo(ConsumerInfo info)
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
                throw new BrokerException(JmsErrors.JmsException, "Durable topic subscriptions are not supported by this broker yet");
            }
            var subscription = new TopicSubscription(info, this, _broker.Time, _broker.Options.TopicSubscriberMaxPending);
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
        if (ack.TransactionId is not null)
        {
            throw new BrokerException(JmsErrors.JmsException, "Transactions are not supported by this broker yet");
        }
        if (ack.ConsumerId is null || !_consumers.TryGetValue(ack.ConsumerId, out var state))
        {
            // The consumer is already gone (closed while the ack was in flight): its messages were requeued.
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
}
