using Ferry.Broker;
using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.Transport;
using Ferry.Store.Postgres;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Ferry.Tests.Store;

/// <summary>
/// The PostgreSQL store keeps the highest sequence of only the producers written to last (as many as the
/// in-memory audit holds), so clients that reconnect with new ids do not grow producer_sequences forever.
/// </summary>
public sealed class PostgresProducerPruneTests : IAsyncLifetime
{
    private const int Keep = 3;
    private static readonly Destination Queue = Destination.Queue("prune.producers");
    private readonly string _prefix = PostgresServer.NewTablePrefix();
    private readonly List<IAsyncDisposable> _opened = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (int i = _opened.Count - 1; i >= 0; i--)
        {
            await _opened[i].DisposeAsync();
        }
    }

    private PostgresPersistenceAdapter Open(TimeSpan? pruneInterval = null, string? fenceTable = null, Action<string>? fenced = null)
    {
        var store = new PostgresPersistenceAdapter(new PostgresStoreOptions
        {
            ConnectionString = PostgresServer.ConnectionString,
            TablePrefix = _prefix,
            MaxProducersToAudit = Keep,
            // A day: no background prune happens unless a test asks for one.
            ProducerPruneInterval = pruneInterval ?? TimeSpan.FromDays(1),
            FenceTable = fenceTable,
            FenceEpoch = () => 1,
            Fenced = fenced,
        }, NullLogger.Instance);
        _opened.Add(store);
        return store;
    }

    private async Task CloseAsync(IAsyncDisposable opened)
    {
        _opened.Remove(opened);
        await opened.DisposeAsync();
    }

    private static ProducerId Producer(int n) => new($"ID:prune-{n}", 1, 1);

    /// <summary>A message from the producer, stored and then consumed, so only producer_sequences remembers it.</summary>
    private static async Task SendAndConsumeAsync(IPersistenceAdapter store, ProducerId producer, long sequence)
    {
        var message = OpenWireTestClient.TextMessage(producer, sequence, Queue, $"{producer}/{sequence}");
        message.Persistent = true;
        await store.StoreAsync(new StoreBatch(new AddMessage(message)), CancellationToken.None);
        await store.StoreAsync(new StoreBatch(new RemoveMessage(Queue, message.MessageId!)), CancellationToken.None);
    }

    private async Task<List<string>> StoredProducersAsync()
    {
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand($"SELECT producer_id FROM {_prefix}producer_sequences ORDER BY producer_id", connection);
        await using var reader = await read.ExecuteReaderAsync();
        var producers = new List<string>();
        while (await reader.ReadAsync())
        {
            producers.Add(reader.GetString(0));
        }
        return producers;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static List<string> Names(params int[] producers) => producers.Select(n => Producer(n).ToString()).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public void The_bound_defaults_to_the_in_memory_audit_bound_and_must_be_positive()
    {
        Assert.Equal(ProducerAudit.DefaultMaxProducers, new PostgresSettings().MaxProducersToAudit);
        Assert.Equal(ProducerAudit.DefaultMaxProducers, new PostgresStoreOptions { ConnectionString = "" }.MaxProducersToAudit);
        var options = new BrokerOptions { PersistenceAdapter = "postgres", Postgres = { ConnectionString = "Host=db", MaxProducersToAudit = 0 } };
        options.TransportConnectors.Add(new TransportConnectorOptions());
        Assert.Contains("maxProducersToAudit", Assert.Throws<ArgumentException>(options.Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_writer_prunes_producer_sequences_to_the_producers_written_last()
    {
        var store = Open(pruneInterval: TimeSpan.Zero);
        await store.RecoverAsync(CancellationToken.None);
        foreach (int n in new[] { 1, 2, 3 })
        {
            await SendAndConsumeAsync(store, Producer(n), 1);
        }
        // Producer 1 writes again while it is still kept: recency is the last write, not the first.
        await SendAndConsumeAsync(store, Producer(1), 2);
        foreach (int n in new[] { 4, 5 })
        {
            await SendAndConsumeAsync(store, Producer(n), 1);
        }

        // The writer prunes after a group and before it takes the next: the removal that followed the last add
        // was answered only after the prune that add called for.
        Assert.Equal(Names(1, 4, 5), await StoredProducersAsync());
    }

    [Fact]
    public async Task After_a_restart_only_the_newest_producers_are_recovered_and_their_resends_are_still_duplicates()
    {
        var store = Open();
        await store.RecoverAsync(CancellationToken.None);
        for (int n = 1; n <= 6; n++)
        {
            await SendAndConsumeAsync(store, Producer(n), 10);
        }
        await SendAndConsumeAsync(store, Producer(2), 11);
        Assert.Equal(6, (await StoredProducersAsync()).Count);
        await CloseAsync(store);

        var options = new BrokerOptions { BrokerName = "prune-test" };
        options.TransportConnectors.Add(new TransportConnectorOptions());
        var restarted = Open();
        // The broker closes its store.
        _opened.Remove(restarted);
        var broker = new BrokerService(options, NullLoggerFactory.Instance, restarted);
        _opened.Add(broker);
        await broker.RecoverAsync(CancellationToken.None);

        Assert.Equal(Names(5, 6, 2), await StoredProducersAsync());
        Assert.Equal(Keep, broker.Audit.Count);
        Assert.True(broker.Audit.IsDuplicate(new MessageId(Producer(2), 11)));
        Assert.True(broker.Audit.IsDuplicate(new MessageId(Producer(6), 10)));
        Assert.False(broker.Audit.IsDuplicate(new MessageId(Producer(1), 10)));

        // The newest producer's client fails over to the restarted broker and resends its last message: dropped.
        var (clientEnd, serverEnd) = InMemoryConnection.CreatePair();
        _ = broker.Serve(serverEnd, connector: null);
        var client = await OpenWireTestClient.StartAsync(clientEnd, connectionId: new ConnectionId(Producer(6).ConnectionId!));
        _opened.Add(client);
        var producer = await client.AddProducerAsync(Queue);
        Assert.Equal(Producer(6), producer);
        var resend = OpenWireTestClient.TextMessage(producer, 10, Queue, "resent");
        resend.Persistent = true;
        OpenWireTestClient.EnsureOk(await client.RequestAsync(resend));
        Assert.Equal(0, broker.Destinations.GetOrCreateQueue(Queue).PendingCount);
    }

    [Fact]
    public async Task A_table_of_the_old_schema_is_migrated_once_by_brokers_starting_together()
    {
        // The version 1 layout, as an older Ferry created it, with more producers than are kept.
        await ExecuteAsync($"""
            CREATE TABLE {_prefix}schema_version (version int NOT NULL);
            INSERT INTO {_prefix}schema_version VALUES (1);
            CREATE TABLE {_prefix}producer_sequences (producer_id text PRIMARY KEY, sequence bigint NOT NULL, epoch bigint NOT NULL);
            INSERT INTO {_prefix}producer_sequences VALUES
                ('{Producer(1)}', 11, 1), ('{Producer(2)}', 12, 1), ('{Producer(3)}', 13, 2), ('{Producer(4)}', 14, 2), ('{Producer(5)}', 15, 3);
            """);

        // Two brokers (say, a master and a slave started at once) open the same database together.
        var first = Open();
        var second = Open();
        var recovered = await Task.WhenAll(first.RecoverAsync(CancellationToken.None), second.RecoverAsync(CancellationToken.None));

        // Rows of a later master's epoch count as newer.
        foreach (var store in recovered)
        {
            Assert.Equal(
                [KeyValuePair.Create(Producer(3).ToString(), 13L), KeyValuePair.Create(Producer(4).ToString(), 14L), KeyValuePair.Create(Producer(5).ToString(), 15L)],
                store.ProducerSequences.OrderBy(p => p.Key, StringComparer.Ordinal));
        }
        Assert.Equal(Names(3, 4, 5), await StoredProducersAsync());
        await using (var connection = new NpgsqlConnection(PostgresServer.ConnectionString))
        {
            await connection.OpenAsync();
            await using var version = new NpgsqlCommand($"SELECT array_agg(version) FROM {_prefix}schema_version", connection);
            var versions = (int[])(await version.ExecuteScalarAsync())!;
            Assert.Equal(2, Assert.Single(versions));
        }

        // The migrated table orders new writes after the old rows.
        await SendAndConsumeAsync(first, Producer(1), 21);
        await CloseAsync(second);
        await CloseAsync(first);
        var reopened = await Open().RecoverAsync(CancellationToken.None);
        Assert.Equal(Names(4, 5, 1), reopened.ProducerSequences.Keys.Order(StringComparer.Ordinal).ToList());
        Assert.Equal(21, reopened.ProducerSequences[Producer(1).ToString()]);
    }

    [Fact]
    public async Task Only_the_master_holding_the_epoch_prunes()
    {
        string fence = _prefix + "lease";
        await ExecuteAsync($"CREATE TABLE {fence} (id int PRIMARY KEY, epoch bigint NOT NULL); INSERT INTO {fence} VALUES (1, 1);");
        string? fencedReason = null;
        var store = Open(fenceTable: fence, fenced: reason => fencedReason = reason);
        await store.RecoverAsync(CancellationToken.None);
        for (int n = 1; n <= 5; n++)
        {
            await SendAndConsumeAsync(store, Producer(n), 1);
        }
        Assert.Equal(2, await store.PruneProducersAsync(CancellationToken.None));
        Assert.Equal(Names(3, 4, 5), await StoredProducersAsync());
        for (int n = 6; n <= 8; n++)
        {
            await SendAndConsumeAsync(store, Producer(n), 1);
        }

        // A newer master took the lock: this one deletes nothing, and stops as a fenced write would.
        await ExecuteAsync($"UPDATE {fence} SET epoch = 2");
        Assert.Equal(0, await store.PruneProducersAsync(CancellationToken.None));
        Assert.Equal(Names(3, 4, 5, 6, 7, 8), await StoredProducersAsync());
        Assert.NotNull(fencedReason);
        await Assert.ThrowsAsync<IOException>(() => SendAndConsumeAsync(store, Producer(9), 1));
    }
}
