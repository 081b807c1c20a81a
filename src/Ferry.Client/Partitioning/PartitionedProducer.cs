namespace Ferry.Client.Partitioning;

/// <summary>
/// A producer over several connections — partitions — each with its own transport (typically its own
/// <c>failover:(…)</c> URI, so each partition fails over on its own), that sends every message through the
/// partition an <see cref="IPartitionRule"/> picks: by destination, by a key property, round robin, or a rule
/// of your own. Each partition is one <see cref="Connection"/>, one auto-acknowledge <see cref="Session"/> and one
/// anonymous <see cref="MessageProducer"/>; a send behaves as that producer's send (persistent sends wait for the broker).
/// <code>
/// await using var producer = await PartitionedProducer.CreateAsync(
///     ["failover:(tcp://a1:61616,tcp://a2:61616)", "failover:(tcp://b1:61616,tcp://b2:61616)"],
///     PartitionRules.ByProperty("customerId"));
/// var message = new TextMessage("…");
/// message.Properties["customerId"] = "c-42";
/// await producer.SendAsync(new Queue("orders"), message);
/// </code>
/// Safe for concurrent callers: sends through one partition go out one at a time, and messages of one key keep
/// the order in which one caller sent them.
/// </summary>
public sealed class PartitionedProducer : IAsyncDisposable
{
    private readonly Partition[] _partitions;
    private int _disposed;

    private PartitionedProducer(Partition[] partitions, IPartitionRule rule)
    {
        _partitions = partitions;
        Rule = rule;
        Connections = partitions.Select(p => p.Connection).ToArray();
    }

    /// <summary>The rule that picks a partition for each send.</summary>
    public IPartitionRule Rule { get; }

    /// <summary>How many partitions (connections) there are.</summary>
    public int PartitionCount => _partitions.Length;

    /// <summary>The partitions' connections, by index: subscribe to their <see cref="Connection.Interrupted"/>, <see cref="Connection.Resumed"/> and <see cref="Connection.ExceptionThrown"/> events here.</summary>
    public IReadOnlyList<Connection> Connections { get; }

    /// <summary>Connects one partition per URI (each URI as for <see cref="ConnectionFactory(string)"/>).</summary>
    /// <exception cref="FormatException">A URI or one of its options is invalid.</exception>
    /// <exception cref="MessagingException">A partition could not connect; the partitions already connected are closed.</exception>
    public static Task<PartitionedProducer> CreateAsync(IEnumerable<string> uris, IPartitionRule rule, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uris);
        return CreateAsync(uris.Select(uri => new ConnectionFactory(uri)).ToList(), rule, cancellationToken);
    }

    /// <summary>Connects one partition per factory, in order: partition <c>i</c> is <paramref name="factories"/>[i].</summary>
    /// <exception cref="MessagingException">A partition could not connect; the partitions already connected are closed.</exception>
    public static async Task<PartitionedProducer> CreateAsync(IEnumerable<ConnectionFactory> factories, IPartitionRule rule, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factories);
        ArgumentNullException.ThrowIfNull(rule);
        var list = factories.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("A partitioned producer needs at least one connection factory", nameof(factories));
        }
        var partitions = new List<Partition>(list.Count);
        try
        {
            foreach (var factory in list)
            {
                ArgumentNullException.ThrowIfNull(factory, nameof(factories));
                var connection = await factory.CreateConnectionAsync(cancellationToken);
                try
                {
                    var session = await connection.CreateSessionAsync(AcknowledgeMode.Auto, cancellationToken);
                    var producer = await session.CreateProducerAsync(null, cancellationToken);
                    partitions.Add(new Partition(connection, producer));
                }
                catch
                {
                    await connection.DisposeAsync();
                    throw;
                }
            }
        }
        catch
        {
            foreach (var partition in partitions)
            {
                await partition.DisposeAsync();
            }
            throw;
        }
        return new PartitionedProducer([.. partitions], rule);
    }

    /// <summary>The partition <see cref="Rule"/> picks for <paramref name="message"/> to <paramref name="destination"/>, checked to be in range.</summary>
    /// <exception cref="InvalidOperationException">The rule returned an index outside 0 … <see cref="PartitionCount"/> − 1.</exception>
    public int SelectPartition(Destination destination, Message message)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(message);
        int index = Rule.SelectPartition(destination, message, _partitions.Length);
        if ((uint)index >= (uint)_partitions.Length)
        {
            throw new InvalidOperationException($"Partition rule {Rule} chose partition {index} of {_partitions.Length} for {destination}");
        }
        return index;
    }

    /// <summary>
    /// Sends <paramref name="message"/> to <paramref name="destination"/> through the partition <see cref="Rule"/> picks,
    /// with the producer defaults (persistent, priority 4, no expiry). Returns that partition's index.
    /// </summary>
    /// <exception cref="MessagingException">The partition's broker refused the send or its connection failed.</exception>
    public async Task<int> SendAsync(Destination destination, Message message, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        int index = SelectPartition(destination, message);
        var partition = _partitions[index];
        await partition.Gate.WaitAsync(cancellationToken);
        try
        {
            await partition.Producer.SendAsync(destination, message, cancellationToken: cancellationToken);
        }
        finally
        {
            partition.Gate.Release();
        }
        return index;
    }

    /// <summary>Closes every partition's connection (its session and producer with it).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        foreach (var partition in _partitions)
        {
            await partition.DisposeAsync();
        }
    }

    private sealed class Partition(Connection connection, MessageProducer producer) : IAsyncDisposable
    {
        public Connection Connection { get; } = connection;
        public MessageProducer Producer { get; } = producer;
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public async ValueTask DisposeAsync()
        {
            await Connection.DisposeAsync();
            Gate.Dispose();
        }
    }
}
