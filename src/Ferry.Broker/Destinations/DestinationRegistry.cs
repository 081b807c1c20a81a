using System.Collections.Concurrent;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>
/// All queues and topics of the broker, created on first use, and the topic subscriptions, which
/// are attached to every topic their patterns match, including topics created later.
/// </summary>
public sealed class DestinationRegistry
{
    private readonly ConcurrentDictionary<string, Queue> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Topic> _topics = new(StringComparer.Ordinal);
    private readonly object _topicGate = new();
    private readonly List<TopicSubscription> _topicSubscriptions = [];
    private readonly ConcurrentDictionary<string, TopicSubscription> _durable = new(StringComparer.Ordinal);
    private readonly IDestinationHost _host;
    private readonly Func<Destination, MemoryUsage> _usageFor;

    public DestinationRegistry(IDestinationHost host, Func<Destination, MemoryUsage> usageFor)
    {
        _host = host;
        _usageFor = usageFor;
    }

    /// <summary>Durable topic subscriptions by client id + name, active or not.</summary>
    public TopicSubscription? FindDurable(string key) => _durable.GetValueOrDefault(key);

    public IEnumerable<TopicSubscription> DurableSubscriptions => _durable.Values;

    public void AddDurable(TopicSubscription subscription)
    {
        _durable[subscription.Durable!.Key] = subscription;
        Subscribe(subscription);
    }

    public void RemoveDurable(TopicSubscription subscription)
    {
        _durable.TryRemove(new KeyValuePair<string, TopicSubscription>(subscription.Durable!.Key, subscription));
        Unsubscribe(subscription);
    }

    /// <summary>Raised when a queue or topic is created (not for temporary ones).</summary>
    public event Action<Destination>? DestinationCreated;

    public IEnumerable<Queue> Queues => _queues.Values;
    public IEnumerable<Topic> Topics => _topics.Values;

    public Queue? FindQueue(string name) => _queues.GetValueOrDefault(name);
    public Topic? FindTopic(string name) => _topics.GetValueOrDefault(name);

    public Queue GetOrCreateQueue(Destination destination)
    {
        if (_queues.TryGetValue(destination.Name, out var queue))
        {
            return queue;
        }
        var created = new Queue(destination, _host, _usageFor(destination));
        queue = _queues.GetOrAdd(destination.Name, created);
        if (ReferenceEquals(queue, created) && !destination.IsTemporary)
        {
            DestinationCreated?.Invoke(destination);
        }
        return queue;
    }

    public Topic GetOrCreateTopic(Destination destination)
    {
        if (_topics.TryGetValue(destination.Name, out var topic))
        {
            return topic;
        }
        bool created = false;
        lock (_topicGate)
        {
            if (!_topics.TryGetValue(destination.Name, out topic))
            {
                topic = new Topic(destination, _host.Time, _usageFor(destination));
                foreach (var subscription in _topicSubscriptions)
                {
                    if (subscription.Matches(destination.Name))
                    {
                        topic.Attach(subscription);
                    }
                }
                _topics[destination.Name] = topic;
                created = true;
            }
        }
        if (created && !destination.IsTemporary)
        {
            DestinationCreated?.Invoke(destination);
        }
        return topic;
    }

    public IEnumerable<BrokerDestination> All => _queues.Values.Cast<BrokerDestination>().Concat(_topics.Values);

    public BrokerDestination GetOrCreate(Destination destination) =>
        destination.IsTopic ? GetOrCreateTopic(destination) : GetOrCreateQueue(destination);

    public void Subscribe(TopicSubscription subscription)
    {
        var kind = subscription.Info.Destination!.Kind;
        foreach (var pattern in subscription.Patterns)
        {
            if (!DestinationFilter.IsWildcard(pattern))
            {
                GetOrCreateTopic(new Destination(kind, pattern));
            }
        }
        lock (_topicGate)
        {
            _topicSubscriptions.Add(subscription);
            foreach (var topic in _topics.Values)
            {
                if (subscription.Matches(topic.Name))
                {
                    topic.Attach(subscription);
                }
            }
        }
    }

    public void Unsubscribe(TopicSubscription subscription)
    {
        lock (_topicGate)
        {
            _topicSubscriptions.Remove(subscription);
            foreach (var topic in _topics.Values)
            {
                topic.Detach(subscription);
            }
        }
        subscription.Close();
    }

    /// <summary>Removes a (temporary) destination; its subscribers see no more messages.</summary>
    public void Remove(Destination destination)
    {
        if (destination.IsTopic)
        {
            _topics.TryRemove(destination.Name, out _);
        }
        else
        {
            _queues.TryRemove(destination.Name, out _);
        }
    }
}
