using Ferry.Client;
using Ferry.Client.Partitioning;
using ClientMessage = Ferry.Client.Message;
using Destination = Ferry.Client.Destination;
using Queue = Ferry.Client.Queue;

namespace Ferry.Tests.Client;

/// <summary><see cref="PartitionedProducer"/> over two in-process brokers: where each message lands.</summary>
public class PartitioningProducerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>Everything on <paramref name="queue"/> at <paramref name="broker"/>: waits for <paramref name="expected"/> messages, then checks nothing more is there.</summary>
    private static async Task<List<ClientMessage>> DrainAsync(ClientBrokerFixture broker, Destination queue, int expected)
    {
        await using var connection = await broker.Factory().CreateConnectionAsync();
        await connection.StartAsync();
        var session = await connection.CreateSessionAsync();
        var consumer = await session.CreateConsumerAsync(queue);
        var messages = new List<ClientMessage>();
        for (int i = 0; i < expected; i++)
        {
            messages.Add(await consumer.ReceiveAsync(Wait) ?? throw new TimeoutException($"{i} of {expected} messages arrived"));
        }
        Assert.Null(await consumer.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
        return messages;
    }

    [Fact]
    public async Task Messages_with_the_same_key_always_land_on_the_same_broker()
    {
        await using var brokerA = await ClientBrokerFixture.StartAsync();
        await using var brokerB = await ClientBrokerFixture.StartAsync();
        var brokers = new[] { brokerA, brokerB };
        // Each partition has its own failover transport, as in production.
        var uris = brokers.Select(b => $"failover:({b.Uri})?randomize=false&initialReconnectDelay=50").ToList();
        var queue = new Queue("partitioned." + Guid.NewGuid().ToString("N"));
        var rule = PartitionRules.ByProperty("customerId");

        var sentTo = new Dictionary<string, HashSet<int>>();
        var perPartition = new int[2];
        await using (var producer = await PartitionedProducer.CreateAsync(uris, rule))
        {
            Assert.Equal(2, producer.PartitionCount);
            Assert.Same(rule, producer.Rule);
            for (int i = 0; i < 200; i++)
            {
                string customer = "customer-" + (i % 12);
                var message = new TextMessage("order " + i);
                message.Properties["customerId"] = customer;
                message.Properties["sequence"] = i;
                int partition = await producer.SendAsync(queue, message);
                Assert.Equal(PartitionRules.PartitionOf(customer, 2), partition);
                Assert.NotNull(message.MessageId);
                perPartition[partition]++;
                (sentTo.TryGetValue(customer, out var set) ? set : sentTo[customer] = []).Add(partition);
            }
        }
        Assert.All(sentTo.Values, set => Assert.Single(set));
        Assert.All(perPartition, n => Assert.True(n > 0, "twelve customers over two partitions should use both"));

        // What the brokers hold: every customer on exactly one broker, the one the rule names, in send order.
        var customersOn = new List<HashSet<string>>();
        for (int b = 0; b < brokers.Length; b++)
        {
            var messages = await DrainAsync(brokers[b], queue, perPartition[b]);
            var customers = messages.Select(m => m.Properties.Get<string>("customerId")).ToHashSet();
            Assert.All(customers, c => Assert.Equal(b, PartitionRules.PartitionOf(c, 2)));
            foreach (var group in messages.GroupBy(m => m.Properties.Get<string>("customerId")))
            {
                var sequence = group.Select(m => m.Properties.Get<int>("sequence")).ToList();
                Assert.Equal(sequence.Order(), sequence);
            }
            customersOn.Add(customers);
        }
        Assert.Empty(customersOn[0].Intersect(customersOn[1]));
        Assert.Equal(12, customersOn[0].Count + customersOn[1].Count);
    }

    [Fact]
    public async Task Destination_and_round_robin_rules_route_as_they_say()
    {
        await using var brokerA = await ClientBrokerFixture.StartAsync();
        await using var brokerB = await ClientBrokerFixture.StartAsync();
        var brokers = new[] { brokerA, brokerB };
        string prefix = "partitioned." + Guid.NewGuid().ToString("N") + ".";
        // Two queue names that hash to different partitions.
        var queues = Enumerable.Range(0, 20).Select(i => new Queue(prefix + i)).ToList();
        var q0 = queues.First(q => PartitionRules.PartitionOf(q.ToString(), 2) == 0);
        var q1 = queues.First(q => PartitionRules.PartitionOf(q.ToString(), 2) == 1);

        await using (var producer = await PartitionedProducer.CreateAsync(brokers.Select(b => b.Factory()), PartitionRules.ByDestination))
        {
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(0, await producer.SendAsync(q0, new TextMessage("to q0")));
                Assert.Equal(1, await producer.SendAsync(q1, new TextMessage("to q1")));
            }
        }
        await DrainAsync(brokerA, q0, 5);
        await DrainAsync(brokerB, q1, 5);
        await DrainAsync(brokerA, q1, 0);
        await DrainAsync(brokerB, q0, 0);

        var shared = new Queue(prefix + "rr");
        await using (var producer = await PartitionedProducer.CreateAsync(brokers.Select(b => b.Factory()), PartitionRules.RoundRobin()))
        {
            var partitions = new List<int>();
            for (int i = 0; i < 6; i++)
            {
                partitions.Add(await producer.SendAsync(shared, new TextMessage("rr " + i)));
            }
            Assert.Equal([0, 1, 0, 1, 0, 1], partitions);
        }
        var onA = await DrainAsync(brokerA, shared, 3);
        var onB = await DrainAsync(brokerB, shared, 3);
        Assert.Equal(["rr 0", "rr 2", "rr 4"], onA.Select(m => ((TextMessage)m).Text));
        Assert.Equal(["rr 1", "rr 3", "rr 5"], onB.Select(m => ((TextMessage)m).Text));
    }

    [Fact]
    public async Task A_rule_out_of_range_is_refused_and_a_failed_partition_closes_the_others()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        await using (var producer = await PartitionedProducer.CreateAsync([broker.Factory()], new FixedRule(3)))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => producer.SendAsync(new Queue("q"), new TextMessage()));
            Assert.Contains("partition 3 of 1", error.Message, StringComparison.Ordinal);
        }

        // The second partition cannot connect (nothing listens, one attempt): the first one's connection is closed again.
        string dead = $"failover:(tcp://127.0.0.1:{Ferry.TestKit.FreePort.Pick()})?startupMaxReconnectAttempts=1&initialReconnectDelay=10";
        await WaitForAsync(() => broker.Broker.ConnectionCount == 0);
        await Assert.ThrowsAsync<MessagingException>(() => PartitionedProducer.CreateAsync([broker.Factory(), new ConnectionFactory(dead)], PartitionRules.RoundRobin()));
        Assert.Equal(2, broker.Transports.Count);
        await WaitForAsync(() => broker.Broker.ConnectionCount == 0);
        await Assert.ThrowsAsync<ArgumentException>(() => PartitionedProducer.CreateAsync(Array.Empty<ConnectionFactory>(), PartitionRules.RoundRobin()));
    }

    [Fact]
    public async Task Disposed_producer_refuses_sends()
    {
        await using var broker = await ClientBrokerFixture.StartAsync();
        var producer = await PartitionedProducer.CreateAsync([broker.Factory()], PartitionRules.ByDestination);
        Assert.Equal(0, await producer.SendAsync(new Queue("q"), new TextMessage()));
        await producer.DisposeAsync();
        await producer.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => producer.SendAsync(new Queue("q"), new TextMessage()));
    }

    private static Task WaitForAsync(Func<bool> condition) =>
        Ferry.TestKit.WaitFor.ConditionAsync(condition, Wait, "the broker to see the connection closed");


    private sealed class FixedRule(int index) : IPartitionRule
    {
        public int SelectPartition(Destination destination, ClientMessage message, int partitionCount) => index;

        public override string ToString() => $"fixed {index}";
    }
}
