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

    /// <summary>Where persistent messages go: "journal" (default, under <see cref="DataDirectory"/>) or "postgres" (<see cref="Postgres"/>).</summary>
    public string PersistenceAdapter { get; set; } = "journal";

    /// <summary>The PostgreSQL store's and lock's settings (persistenceAdapter "postgres").</summary>
    public PostgresSettings Postgres { get; set; } = new();

    /// <summary>
    /// Who may serve (shared-storage master/slave): "shared-directory" (a lock file in the data directory, the
    /// default with the journal) or "postgres" (a lock and lease in the database, the default with the PostgreSQL store).
    /// </summary>
    public string? Locker { get; set; }

    /// <summary>The locker in effect: <see cref="Locker"/>, or the one that fits the persistence adapter.</summary>
    public string EffectiveLocker => Locker ?? (Persistent && PersistenceAdapter == "postgres" ? "postgres" : "shared-directory");

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
        if (PersistenceAdapter is not ("journal" or "postgres"))
        {
            throw new ArgumentException($"persistenceAdapter must be 'journal' or 'postgres', not '{PersistenceAdapter}'");
        }
        if (EffectiveLocker is not ("shared-directory" or "postgres"))
        {
            throw new ArgumentException($"locker must be 'shared-directory' or 'postgres', not '{Locker}'");
        }
        if (PersistenceAdapter == "postgres" || EffectiveLocker == "postgres")
        {
            Postgres.Validate();
        }
        // The store's fence reads the lock's epoch in the same database: the two go together.
        if (PersistenceAdapter == "postgres" && Persistent && EffectiveLocker != "postgres")
        {
            throw new ArgumentException("persistenceAdapter 'postgres' needs locker 'postgres' (the store's writes are fenced by the lock's epoch in the database)");
        }
        if (EffectiveLocker == "postgres" && (PersistenceAdapter != "postgres" || !Persistent))
        {
            throw new ArgumentException("locker 'postgres' goes with persistenceAdapter 'postgres'");
        }
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

    /// <summary>Zeros written ahead of the journal's last record (1 MiB), so an fsync writes data only; 0 turns it off.</summary>
    public int PreallocationBytes { get; set; } = 1024 * 1024;

    public void Validate()
    {
        if (SegmentSize < 64 * 1024)
        {
            throw new ArgumentException("journal.segmentSize must be at least 64 KiB");
        }
        if (PreallocationBytes < 0 || PreallocationBytes > 64 * 1024 * 1024)
        {
            throw new ArgumentException("journal.preallocationBytes must be between 0 and 64 MiB");
        }
        if (SyncPolicy is not ("always" or "never"))
        {
            throw new ArgumentException($"journal.syncPolicy must be 'always' or 'never', not '{SyncPolicy}'");
        }
    }
}

/// <summary>Where the PostgreSQL store and lock live.</summary>
public sealed partial class PostgresSettings
{
    /// <summary>An Npgsql connection string, e.g. <c>Host=db;Port=5432;Username=ferry;Password=…;Database=ferry</c>.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Prepended to every table name, so several brokers can share one database.</summary>
    public string TablePrefix { get; set; } = "ferry_";

    /// <summary>
    /// Producers whose highest sequence the store keeps for the duplicate audit (ActiveMQ's
    /// maxProducersToAudit); older ones are pruned. Matches the broker's in-memory audit bound.
    /// </summary>
    public int MaxProducersToAudit { get; set; } = ProducerAudit.DefaultMaxProducers;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("postgres.connectionString is required with persistenceAdapter 'postgres'");
        }
        ValidateTablePrefix(TablePrefix);
        if (MaxProducersToAudit <= 0)
        {
            throw new ArgumentException("postgres.maxProducersToAudit must be positive");
        }
    }

    /// <summary>Table names are spliced into SQL, so the prefix is held to a plain identifier.</summary>
    public static void ValidateTablePrefix(string prefix)
    {
        if (!TablePrefixPattern().IsMatch(prefix))
        {
            throw new ArgumentException($"postgres.tablePrefix '{prefix}' must be lower-case letters, digits and '_', start with a letter or '_', at most 40 characters");
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$")]
    private static partial System.Text.RegularExpressions.Regex TablePrefixPattern();
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
