using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Store.Journal;
using Ferry.Store.Memory;
using Ferry.Store.Postgres;
using Ferry.Store.IO;
using Ferry.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ferry.Tests.Store;

/// <summary>
/// What every persistence adapter promises the engine (IPersistenceAdapter): recovery in arrival order,
/// bodies untouched, removal per queue and per durable subscription, subscriptions, producer sequences.
/// One class of tests, run against each implementation below.
/// </summary>
public abstract class StoreContractTests : IAsyncLifetime
{
    private static readonly ProducerId ProducerA = new("ID:contract-a", 1, 1);
    private static readonly ProducerId ProducerB = new("ID:contract-b", 1, 1);
    private readonly List<IPersistenceAdapter> _opened = [];

    /// <summary>A store that sees what earlier instances of this test wrote (a restart), or a fresh one the first time.</summary>
    protected abstract IPersistenceAdapter Open();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _opened.Distinct())
        {
            await store.DisposeAsync();
        }
    }

    private async Task<(IPersistenceAdapter Store, RecoveredStore Recovered)> OpenAsync()
    {
        var store = Open();
        _opened.Add(store);
        var recovered = await store.RecoverAsync(CancellationToken.None);
        return (store, recovered);
    }

    /// <summary>Closes the store (as a restart would) and opens it again.</summary>
    private async Task<RecoveredStore> RestartAsync(IPersistenceAdapter store)
    {
        if (store is not MemoryPersistenceAdapter)
        {
            _opened.Remove(store);
            await store.DisposeAsync();
        }
        return (await OpenAsync()).Recovered;
    }

    private static Message Text(ProducerId producer, long sequence, Destination destination, string text)
    {
        var message = OpenWireTestClient.TextMessage(producer, sequence, destination, text);
        message.Persistent = true;
        return message;
    }

    [Fact]
    public async Task Messages_are_recovered_in_arrival_order_with_their_bodies()
    {
        var (store, recovered) = await OpenAsync();
        Assert.Empty(recovered.Messages);
        var queue = Destination.Queue("contract.order");
        for (int i = 1; i <= 20; i++)
        {
            // Alternate producers so arrival order is not the order of ids.
            var producer = i % 2 == 0 ? ProducerA : ProducerB;
            await store.StoreAsync(new StoreBatch(new AddMessage(Text(producer, i, queue, "m" + i))), CancellationToken.None);
        }
        var after = await RestartAsync(store);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => "m" + i), after.Messages.Select(m => OpenWireTestClient.TextOf(m.Message)));
        Assert.All(after.Messages, m => Assert.Equal(queue, m.Message.Destination));
    }

    [Fact]
    public async Task A_removed_queue_message_is_not_recovered()
    {
        var (store, _) = await OpenAsync();
        var queue = Destination.Queue("contract.remove");
        var keep = Text(ProducerA, 1, queue, "keep");
        var gone = Text(ProducerA, 2, queue, "gone");
        await store.StoreAsync(new StoreBatch(new AddMessage(keep)), CancellationToken.None);
        await store.StoreAsync(new StoreBatch(new AddMessage(gone)), CancellationToken.None);
        await store.StoreAsync(new StoreBatch(new RemoveMessage(queue, gone.MessageId!), StoreDurability.Deferred), CancellationToken.None);
        var after = await RestartAsync(store);
        Assert.Equal(["keep"], after.Messages.Select(m => OpenWireTestClient.TextOf(m.Message)));
    }

    [Fact]
    public async Task A_topic_message_stays_until_every_durable_subscription_acknowledged_it()
    {
        var (store, _) = await OpenAsync();
        var topic = Destination.Topic("contract.topic");
        var one = new DurableSubscriptionInfo(1, "client", "one", topic, null, false);
        var two = new DurableSubscriptionInfo(2, "client", "two", topic, "color = 'red'", true);
        var batch = new StoreBatch();
        batch.Operations.Add(new AddDurableSubscription(one));
        batch.Operations.Add(new AddDurableSubscription(two));
        await store.StoreAsync(batch, CancellationToken.None);
        var message = Text(ProducerA, 1, topic, "to both");
        await store.StoreAsync(new StoreBatch(new AddMessage(message, [1, 2])), CancellationToken.None);
        await store.StoreAsync(new StoreBatch(new RemoveMessage(topic, message.MessageId!, 1)), CancellationToken.None);

        var after = await RestartAsync(store);
        var recovered = Assert.Single(after.Messages);
        Assert.Equal([2L], recovered.PendingSubscriptions);
        Assert.Equal([one, two], after.Subscriptions.OrderBy(s => s.Id));

        var (reopened, _) = (_opened[^1], after);
        await reopened.StoreAsync(new StoreBatch(new RemoveMessage(topic, message.MessageId!, 2)), CancellationToken.None);
        Assert.Empty((await RestartAsync(reopened)).Messages);
    }

    [Fact]
    public async Task Removing_a_durable_subscription_drops_the_messages_only_it_waited_for()
    {
        var (store, _) = await OpenAsync();
        var topic = Destination.Topic("contract.unsubscribe");
        var batch = new StoreBatch();
        batch.Operations.Add(new AddDurableSubscription(new DurableSubscriptionInfo(7, "c", "seven", topic, null, false)));
        batch.Operations.Add(new AddDurableSubscription(new DurableSubscriptionInfo(8, "c", "eight", topic, null, false)));
        batch.Operations.Add(new AddMessage(Text(ProducerA, 1, topic, "only seven"), [7]));
        batch.Operations.Add(new AddMessage(Text(ProducerA, 2, topic, "both"), [7, 8]));
        await store.StoreAsync(batch, CancellationToken.None);
        await store.StoreAsync(new StoreBatch(new RemoveDurableSubscription(7)), CancellationToken.None);

        var after = await RestartAsync(store);
        var left = Assert.Single(after.Messages);
        Assert.Equal("both", OpenWireTestClient.TextOf(left.Message));
        Assert.Equal([8L], left.PendingSubscriptions);
        Assert.Equal([8L], after.Subscriptions.Select(s => s.Id));
    }

    [Fact]
    public async Task The_highest_stored_sequence_of_each_producer_is_recovered()
    {
        var (store, _) = await OpenAsync();
        var queue = Destination.Queue("contract.producers");
        var batch = new StoreBatch();
        batch.Operations.Add(new AddMessage(Text(ProducerA, 3, queue, "a3")));
        batch.Operations.Add(new AddMessage(Text(ProducerA, 5, queue, "a5")));
        batch.Operations.Add(new AddMessage(Text(ProducerB, 9, queue, "b9")));
        await store.StoreAsync(batch, CancellationToken.None);
        var after = await RestartAsync(store);
        Assert.Equal(5, after.ProducerSequences[ProducerA.ToString()]);
        Assert.Equal(9, after.ProducerSequences[ProducerB.ToString()]);
    }

    [Fact]
    public async Task A_batch_that_moves_a_message_applies_all_of_its_operations()
    {
        var (store, _) = await OpenAsync();
        var queue = Destination.Queue("contract.source");
        var dlq = Destination.Queue("ActiveMQ.DLQ");
        var message = Text(ProducerA, 1, queue, "poison");
        await store.StoreAsync(new StoreBatch(new AddMessage(message)), CancellationToken.None);
        var moved = Text(ProducerA, 1, dlq, "poison");
        var batch = new StoreBatch();
        batch.Operations.Add(new RemoveMessage(queue, message.MessageId!));
        batch.Operations.Add(new AddMessage(moved));
        await store.StoreAsync(batch, CancellationToken.None);
        var after = await RestartAsync(store);
        Assert.Equal([dlq], after.Messages.Select(m => m.Message.Destination!));
    }
}

public sealed class MemoryStoreContractTests : StoreContractTests
{
    private readonly MemoryPersistenceAdapter _store = new();

    protected override IPersistenceAdapter Open() => _store;
}

public sealed class JournalStoreContractTests : StoreContractTests, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override IPersistenceAdapter Open() =>
        new JournalPersistenceAdapter(JournalTestKit.Options(_directory.Path, segmentSize: 1024 * 1024), PhysicalFileSystem.Instance, NullLogger.Instance);

    public void Dispose() => _directory.Dispose();
}

public sealed class PostgresStoreContractTests : StoreContractTests
{
    private readonly string _prefix = PostgresServer.NewTablePrefix();

    protected override IPersistenceAdapter Open() =>
        new PostgresPersistenceAdapter(new PostgresStoreOptions { ConnectionString = PostgresServer.ConnectionString, TablePrefix = _prefix }, NullLogger.Instance);
}
