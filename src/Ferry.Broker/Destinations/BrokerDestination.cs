using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>A queue or topic inside the broker.</summary>
public abstract class BrokerDestination
{
    protected BrokerDestination(Destination destination, TimeProvider time, MemoryUsage usage)
    {
        Destination = destination;
        Time = time;
        Usage = usage;
        AsTargets = [this];
    }

    /// <summary>This destination alone as a send's targets: a plain destination resolves to it once per message.</summary>
    public IReadOnlyList<BrokerDestination> AsTargets { get; }

    /// <summary>Bytes of messages this destination holds; producers wait when it is full.</summary>
    public MemoryUsage Usage { get; }

    /// <summary>Moves out messages whose time to live has passed.</summary>
    public abstract void ExpireMessages();

    public Destination Destination { get; }
    public string Name => Destination.Name;
    protected TimeProvider Time { get; }

    /// <summary>Takes a message that arrived for this destination.</summary>
    public abstract void Send(Message message);

    public abstract int ConsumerCount { get; }

    /// <summary>When a blocked producer was last logged for this destination (ms since the epoch).</summary>
    internal long? LastBlockedWarning { get; set; }

    protected long Now => Time.GetUtcNow().ToUnixTimeMilliseconds();
}
