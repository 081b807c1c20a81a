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

    /// <summary>Whether persistent messages are stored (in the journal under <see cref="DataDirectory"/>); off keeps everything in memory.</summary>
    public bool Persistent { get; set; } = true;

    /// <summary>The embedded journal's settings.</summary>
    public JournalSettings Journal { get; set; } = new();

    /// <summary>Bytes of messages the broker holds in memory before producers are slowed (64 MiB).</summary>
    public long MemoryLimit { get; set; } = 64L * 1024 * 1024;

    /// <summary>Bytes one destination may hold before its producers are slowed; 0 = only the broker limit applies.</summary>
    public long DestinationMemoryLimit { get; set; }

    /// <summary>Disk the store may use; past it persistent sends fail with ResourceAllocationException (100 GiB).</summary>
    public long StoreLimit { get; set; } = 100L * 1024 * 1024 * 1024;

    /// <summary>
    /// How long a send waits for memory at the limit before failing with a clear error
    /// (ActiveMQ's sendFailIfNoSpaceAfterTimeout); 0 waits as long as the producer's connection lives.
    /// </summary>
    public int SendFailIfNoSpaceAfterTimeout { get; set; } = 30_000;

    /// <summary>Broker-side redelivery limit: a message returned more often goes to the DLQ (-1 = none).</summary>
    public int MaximumRedeliveries { get; set; } = 6;

    /// <summary>"shared" (one queue, <see cref="DeadLetterQueue"/>) or "individual" (ActiveMQ.DLQ.Queue.&lt;name&gt; per destination).</summary>
    public string DeadLetterStrategy { get; set; } = "shared";

    /// <summary>Expired messages go to the dead-letter queue (persistent ones; ActiveMQ's processExpired) instead of being dropped.</summary>
    public bool ExpiredMessagesToDeadLetter { get; set; } = true;

    /// <summary>Non-persistent messages are dropped, not dead-lettered (ActiveMQ's processNonPersistent=false).</summary>
    public bool NonPersistentToDeadLetter { get; set; }

    /// <summary>How often pending messages are checked for expiry, in milliseconds.</summary>
    public int ExpireMessagesPeriod { get; set; } = 30_000;

    /// <summary>A slave retries the data directory's lock this often, in milliseconds (ActiveMQ's lockAcquireSleepInterval).</summary>
    public int LockAcquireSleepInterval { get; set; } = 500;

    /// <summary>The master renews its hold on the lock this often, in milliseconds (ActiveMQ's lockKeepAlivePeriod).</summary>
    public int LockKeepAlivePeriod { get; set; } = 1000;

    /// <summary>A master lease not renewed for this long (ms) lets a slave take over from a stuck master; the stale master is fenced off.</summary>
    public int LockLeaseDuration { get; set; } = 3000;

    /// <summary>Per-destination overrides, matched by wildcard (first match wins).</summary>
    public List<DestinationPolicy> DestinationPolicies { get; set; } = [];

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
            Connections.TransportConnector.Validate(connector.Uri);
        }
        if (TopicSubscriberMaxPending <= 0)
        {
            throw new ArgumentException("topicSubscriberMaxPending must be positive");
        }
        if (DeadLetterStrategy is not ("shared" or "individual"))
        {
            throw new ArgumentException($"deadLetterStrategy must be 'shared' or 'individual', not '{DeadLetterStrategy}'");
        }
        if (MemoryLimit <= 0 || StoreLimit <= 0 || DestinationMemoryLimit < 0)
        {
            throw new ArgumentException("memoryLimit and storeLimit must be positive, destinationMemoryLimit not negative");
        }
        if (LockAcquireSleepInterval <= 0 || LockKeepAlivePeriod <= 0 || LockLeaseDuration <= LockKeepAlivePeriod)
        {
            throw new ArgumentException("lockAcquireSleepInterval and lockKeepAlivePeriod must be positive, lockLeaseDuration longer than lockKeepAlivePeriod");
        }
        if (ExpireMessagesPeriod <= 0)
        {
            throw new ArgumentException("expireMessagesPeriod must be positive");
        }
        Journal.Validate();
        foreach (var policy in DestinationPolicies)
        {
            policy.Validate();
        }
    }
}

/// <summary>Settings of the embedded journal (the default store).</summary>
public sealed class JournalSettings
{
    /// <summary>A segment file rolls over past this size (32 MiB).</summary>
    public long SegmentSize { get; set; } = 32L * 1024 * 1024;

    /// <summary>"always": a persistent send is answered only after fsync; "never": the OS decides (tests, benchmarks).</summary>
    public string SyncPolicy { get; set; } = "always";

    public void Validate()
    {
        if (SegmentSize < 64 * 1024)
        {
            throw new ArgumentException("journal.segmentSize must be at least 64 KiB");
        }
        if (SyncPolicy is not ("always" or "never"))
        {
            throw new ArgumentException($"journal.syncPolicy must be 'always' or 'never', not '{SyncPolicy}'");
        }
    }
}

/// <summary>Settings for the destinations matching <see cref="Destination"/> (e.g. <c>queue://orders.&gt;</c>).</summary>
public sealed class DestinationPolicy
{
    public string Destination { get; set; } = "";
    public long? MemoryLimit { get; set; }
    public string? DeadLetterQueue { get; set; }
    public int? MaximumRedeliveries { get; set; }

    public void Validate()
    {
        if (!Destination.StartsWith("queue://", StringComparison.Ordinal) && !Destination.StartsWith("topic://", StringComparison.Ordinal))
        {
            throw new ArgumentException($"destination policy '{Destination}' must start with queue:// or topic://");
        }
    }

    public bool Applies(Ferry.Protocol.OpenWire.Commands.Destination destination)
    {
        bool topic = Destination.StartsWith("topic://", StringComparison.Ordinal);
        return topic == destination.IsTopic && Destinations.DestinationFilter.Matches(Destination[8..], destination.Name);
    }
}

public sealed class TransportConnectorOptions
{
    public string Name { get; set; } = "openwire";
    public string Uri { get; set; } = BrokerOptions.DefaultConnectorUri;
}
