using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>A queue or topic inside the broker.</summary>
public abstract class BrokerDestination
{
    protected BrokerDestination(Destination destination, TimeProvider time)
    {
        Destination = destination;
        Time = time;
    }

    public Destination Destination { get; }
    public string Name => Destination.Name;
    protected TimeProvider Time { get; }

    /// <summary>Takes a message that arrived for this destination.</summary>
    public abstract void Send(Message message);

    public abstract int ConsumerCount { get; }

    protected long Now => Time.GetUtcNow().ToUnixTimeMilliseconds();
}
