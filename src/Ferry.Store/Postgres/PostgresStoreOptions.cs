namespace Ferry.Store.Postgres;

/// <summary>Where and how the PostgreSQL store keeps its tables.</summary>
public sealed record PostgresStoreOptions
{
    /// <summary>An Npgsql connection string (Host=…;Port=…;Username=…;Password=…;Database=…).</summary>
    public required string ConnectionString { get; init; }

    /// <summary>Prepended to every table name, so several brokers (or tests) can share one database.</summary>
    public string TablePrefix { get; init; } = "ferry_";

    /// <summary>
    /// The broker lock's lease table (see Ferry.Ha's PostgresLock) and the epoch this broker holds
    /// there: every write transaction checks, in the database, that the table still holds this epoch.
    /// Null for a store without master/slave (nothing to fence).
    /// </summary>
    public string? FenceTable { get; init; }

    public Func<long> FenceEpoch { get; init; } = () => 0;

    /// <summary>Called first for every write group; throws if the broker already knows it lost its lock.</summary>
    public Action? CheckFence { get; init; }

    /// <summary>Called once when the database refused a write because a newer master holds the lock.</summary>
    public Action<string>? Fenced { get; init; }

    /// <summary>Becomes the application_name of the store's sessions, so a new master can end a stale one's.</summary>
    public string? ApplicationName { get; init; }

    /// <summary>Batches written in one transaction at most (group commit).</summary>
    public int MaxBatchesPerTransaction { get; init; } = 2000;

    /// <summary>
    /// Producers whose highest sequence is kept (the most recently written ones) and recovered for the
    /// duplicate audit; the rest are pruned, so clients that reconnect with new ids do not grow the table.
    /// </summary>
    public int MaxProducersToAudit { get; init; } = Ferry.Broker.ProducerAudit.DefaultMaxProducers;

    /// <summary>How often, at most, the writer prunes producer sequences beyond <see cref="MaxProducersToAudit"/>.</summary>
    public TimeSpan ProducerPruneInterval { get; init; } = TimeSpan.FromSeconds(60);
}
