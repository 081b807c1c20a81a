using Ferry.Broker.Destinations;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Broker.Advisory;

/// <summary>
/// Publishes ActiveMQ's advisory messages (connections, consumers, producers, destinations,
/// temporary destinations) and replays current state to a consumer that subscribes to them.
/// The Java client depends on the temp-destination advisories to know which temporary
/// destinations exist.
/// </summary>
public sealed class AdvisoryPublisher
{
    public const string Prefix = "ActiveMQ.Advisory.";
    public const string ConnectionTopic = Prefix + "Connection";
    public const string QueueTopic = Prefix + "Queue";
    public const string TopicTopic = Prefix + "Topic";
    public const string TempQueueTopic = Prefix + "TempQueue";
    public const string TempTopicTopic = Prefix + "TempTopic";
    public const string MasterBrokerTopic = Prefix + "MasterBroker";

    private readonly BrokerService _broker;
    private readonly ProducerId _producerId;
    private long _sequence;

    public AdvisoryPublisher(BrokerService broker)
    {
        _broker = broker;
        _producerId = new ProducerId(broker.BrokerId.Value + ":advisory", 0, 0);
    }

    public static bool IsAdvisory(Destination destination) => destination.Name.StartsWith(Prefix, StringComparison.Ordinal);

    public static string ConsumerTopicFor(Destination d) => Prefix + "Consumer." + KindSegment(d) + Escape(d.Name);
    public static string ProducerTopicFor(Destination d) => Prefix + "Producer." + KindSegment(d) + Escape(d.Name);

    private static string KindSegment(Destination d) => d.IsTopic ? "Topic." : "Queue.";
    private static string Escape(string name) => name.Replace(",", "&sbquo;", StringComparison.Ordinal);

    public void MasterBroker(BrokerInfo info) => Publish(MasterBrokerTopic, info);

    public void ConnectionAdded(ConnectionInfo info) => Publish(ConnectionTopic, Sanitize(info));

    public void ConnectionRemoved(ConnectionId id) => Publish(ConnectionTopic, new RemoveInfo { ObjectId = id });

    public void ConsumerChanged(Destination destination, DataStructure payload, int consumerCount)
    {
        foreach (var part in destination.CompositeParts())
        {
            if (!IsAdvisory(part))
            {
                Publish(ConsumerTopicFor(part), payload, ("consumerCount", consumerCount));
            }
        }
    }

    public void ProducerChanged(Destination destination, DataStructure payload, int producerCount)
    {
        foreach (var part in destination.CompositeParts())
        {
            if (!IsAdvisory(part))
            {
                Publish(ProducerTopicFor(part), payload, ("producerCount", producerCount));
            }
        }
    }

    public void TempDestinationChanged(DestinationInfo info) =>
        Publish(info.Destination!.IsTopic ? TempTopicTopic : TempQueueTopic, info);

    public void DestinationCreated(Destination destination)
    {
        if (IsAdvisory(destination))
        {
            return;
        }
        Publish(destination.IsTopic ? TopicTopic : QueueTopic, new DestinationInfo
        {
            ConnectionId = null,
            Destination = destination,
            OperationType = DestinationInfo.Add,
        });
    }

    /// <summary>Sends the current state, as advisories aimed at it alone, to a new advisory subscriber.</summary>
    public void Replay(TopicSubscription subscription)
    {
        foreach (var (topic, payload, property) in _broker.AdvisoryState())
        {
            if (subscription.Matches(topic))
            {
                var message = Build(topic, payload, property);
                message.TargetConsumerId = subscription.Id;
                subscription.Add(message);
            }
        }
    }

    private void Publish(string topic, DataStructure payload, (string Name, int Value)? property = null)
    {
        if (!_broker.Options.AdvisorySupport)
        {
            return;
        }
        _broker.Destinations.GetOrCreateTopic(Destination.Topic(topic)).Send(Build(topic, payload, property));
    }

    private Message Build(string topic, DataStructure payload, (string Name, int Value)? property)
    {
        var properties = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["originBrokerId"] = _broker.BrokerId.Value,
            ["originBrokerName"] = _broker.BrokerName,
            ["originBrokerURL"] = _broker.BrokerUrl,
        };
        if (property is { } p)
        {
            properties[p.Name] = p.Value;
        }
        var id = new MessageId(_producerId, Interlocked.Increment(ref _sequence))
        {
            BrokerSequenceId = _broker.NextSequence(),
        };
        return new Message(DataTypes.Message)
        {
            ProducerId = _producerId,
            Destination = Destination.Topic(topic),
            MessageId = id,
            Type = "Advisory",
            Priority = 0,
            DataStructure = payload,
            MarshalledProperties = PrimitiveMap.Encode(properties),
        };
    }

    /// <summary>Connection advisories never carry the password.</summary>
    public static ConnectionInfo Sanitize(ConnectionInfo info)
    {
        var copy = (ConnectionInfo)info.ShallowCopy();
        copy.Password = "";
        return copy;
    }
}
