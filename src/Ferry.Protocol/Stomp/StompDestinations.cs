using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.Stomp;

/// <summary>STOMP destination names and ActiveMQ destinations, as ActiveMQ maps them.</summary>
public static class StompDestinations
{
    public const string Queue = "/queue/";
    public const string Topic = "/topic/";
    public const string TempQueue = "/temp-queue/";
    public const string TempTopic = "/temp-topic/";
    public const string RemoteTempQueue = "/remote-temp-queue/";
    public const string RemoteTempTopic = "/remote-temp-topic/";

    /// <summary>
    /// Maps every name except this connection's own temporary ones (<c>/temp-queue/</c>,
    /// <c>/temp-topic/</c>), which the connection creates: false for those. A name without a known
    /// prefix is a queue of that name.
    /// </summary>
    public static bool TryParse(string name, out Destination destination)
    {
        name = name.Trim();
        if (name.StartsWith(TempQueue, StringComparison.Ordinal) || name.StartsWith(TempTopic, StringComparison.Ordinal))
        {
            destination = null!;
            return false;
        }
        destination = name switch
        {
            _ when name.StartsWith(Queue, StringComparison.Ordinal) => new Destination(DestinationKind.Queue, name[Queue.Length..]),
            _ when name.StartsWith(Topic, StringComparison.Ordinal) => new Destination(DestinationKind.Topic, name[Topic.Length..]),
            _ when name.StartsWith(RemoteTempQueue, StringComparison.Ordinal) => new Destination(DestinationKind.TempQueue, name[RemoteTempQueue.Length..]),
            _ when name.StartsWith(RemoteTempTopic, StringComparison.Ordinal) => new Destination(DestinationKind.TempTopic, name[RemoteTempTopic.Length..]),
            _ => new Destination(DestinationKind.Queue, name),
        };
        return true;
    }

    /// <summary>The STOMP name of a destination; temporary ones not created by this connection are "remote".</summary>
    public static string Format(Destination destination) => destination.Kind switch
    {
        DestinationKind.Queue => Queue + destination.Name,
        DestinationKind.Topic => Topic + destination.Name,
        DestinationKind.TempQueue => RemoteTempQueue + destination.Name,
        _ => RemoteTempTopic + destination.Name,
    };
}
