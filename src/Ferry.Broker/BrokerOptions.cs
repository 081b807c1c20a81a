namespace Ferry.Broker;

/// <summary>
/// Everything a broker is configured with. Bound from JSON, environment variables and command-line
/// flags; names follow ActiveMQ's where it has one.
/// </summary>
public sealed class BrokerOptions
{
    public string BrokerName { get; set; } = "localhost";

    /// <summary>Where persistent state lives (the journal, from the store issue on).</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>Listening endpoints, e.g. <c>tcp://127.0.0.1:61616?wireFormat.maxInactivityDuration=30000</c>.</summary>
    public List<TransportConnectorOptions> TransportConnectors { get; set; } = [];

    /// <summary>Whether advisory messages are published (consumer, producer, connection, destination, temp destination).</summary>
    public bool AdvisorySupport { get; set; } = true;

    /// <summary>Where poison messages go.</summary>
    public string DeadLetterQueue { get; set; } = "ActiveMQ.DLQ";

    /// <summary>A non-durable topic subscriber holding more pending messages than this loses the oldest.</summary>
    public int TopicSubscriberMaxPending { get; set; } = 100_000;

    /// <summary>Output queued to one connection beyond this closes it as a slow consumer.</summary>
    public long MaxPendingOutputBytesPerConnection { get; set; } = 64L * 1024 * 1024;

    /// <summary>How long shutdown waits for connections to finish before dropping them.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public static string DefaultConnectorUri => "tcp://127.0.0.1:61616";

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(BrokerName))
        {
            throw new ArgumentException("brokerName must not be empty");
        }
        if (TransportConnectors.Count == 0)
        {
            throw new ArgumentException("at least one transport connector is needed");
        }
        foreach (var connector in TransportConnectors)
        {
            Ferry.Protocol.Transport.TcpTransportOptions.Parse(connector.Uri);
        }
        if (TopicSubscriberMaxPending <= 0)
        {
            throw new ArgumentException("topicSubscriberMaxPending must be positive");
        }
    }
}

public sealed class TransportConnectorOptions
{
    public string Name { get; set; } = "openwire";
    public string Uri { get; set; } = BrokerOptions.DefaultConnectorUri;
}
