using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Storage;

/// <summary>
/// Where the broker keeps what must survive it: persistent messages, their removal, durable
/// subscriptions. Implementations live in Ferry.Store (journal, memory, later PostgreSQL); the engine
/// only sees this contract. A completed <see cref="StoreAsync"/> means the whole batch is durable
/// (or, for <see cref="StoreDurability.Deferred"/> batches, queued in order behind everything earlier).
/// </summary>
public interface IPersistenceAdapter : IAsyncDisposable
{
    string Description { get; }

    /// <summary>Opens the store and returns everything it holds. Called once, before any write.</summary>
    Task<RecoveredStore> RecoverAsync(CancellationToken cancellationToken);

    /// <summary>Applies a batch atomically: after a crash either every operation is there or none.</summary>
    ValueTask StoreAsync(StoreBatch batch, CancellationToken cancellationToken);

    /// <summary>Bytes the store occupies on its medium, for the store usage limit.</summary>
    long UsedBytes { get; }
}

public enum StoreDurability
{
    /// <summary>Completes once durable (persistent sends, commits).</summary>
    Sync,
    /// <summary>Completes once queued in order; durability follows with the next sync (acks).</summary>
    Deferred,
}

/// <summary>Operations written together, atomically.</summary>
public sealed class StoreBatch
{
    public StoreBatch(StoreDurability durability = StoreDurability.Sync) => Durability = durability;

    public StoreBatch(StoreOperation operation, StoreDurability durability = StoreDurability.Sync) : this(durability) => Operations.Add(operation);

    public StoreDurability Durability { get; }
    public List<StoreOperation> Operations { get; } = [];
    public bool IsEmpty => Operations.Count == 0;
}

public abstract record StoreOperation;

/// <summary>
/// A persistent message arrived. For a topic, <paramref name="Subscriptions"/> names the durable
/// subscriptions (by <see cref="DurableSubscriptionInfo.Id"/>) that must each acknowledge it.
/// </summary>
public sealed record AddMessage(Message Message, IReadOnlyList<long>? Subscriptions = null) : StoreOperation;

/// <summary>A persistent message was consumed (from a queue, or by one durable subscription).</summary>
public sealed record RemoveMessage(Destination Destination, MessageId MessageId, long? SubscriptionId = null) : StoreOperation;

public sealed record AddDurableSubscription(DurableSubscriptionInfo Subscription) : StoreOperation;

/// <summary>The subscription is gone, and with it every message only it still waited for.</summary>
public sealed record RemoveDurableSubscription(long SubscriptionId) : StoreOperation;

/// <summary>A durable topic subscription: client id + name, with a unique id per incarnation.</summary>
public sealed record DurableSubscriptionInfo(long Id, string ClientId, string Name, Destination Destination, string? Selector, bool NoLocal)
{
    public string Key => KeyOf(ClientId, Name);

    public static string KeyOf(string clientId, string name) => clientId + ":" + name;
}

/// <summary>
/// What a store held when it was opened. <paramref name="ProducerSequences"/> is the highest
/// sequence stored per producer (including messages consumed since, as far as the store still knows
/// them), so a message resent after a failover is recognised as a duplicate.
/// </summary>
public sealed record RecoveredStore(
    IReadOnlyList<RecoveredMessage> Messages,
    IReadOnlyList<DurableSubscriptionInfo> Subscriptions,
    IReadOnlyDictionary<string, long> ProducerSequences)
{
    public static RecoveredStore Empty { get; } = new([], [], new Dictionary<string, long>());
}

/// <summary>A stored message, in arrival order, with the durable subscriptions still waiting for it (topics).</summary>
public sealed record RecoveredMessage(Message Message, IReadOnlyList<long> PendingSubscriptions);
