using Ferry.Client;
using Ferry.Client.Partitioning;
using Queue = Ferry.Client.Queue;

namespace Ferry.Tests.Client;

/// <summary>The built-in partition rules: stable, in range, and what they key on.</summary>
public class PartitioningRuleTests
{
    private static TextMessage WithKey(object? key, string property = "customerId")
    {
        var message = new TextMessage("x");
        message.Properties[property] = key;
        return message;
    }

    [Theory]
    // 32-bit FNV-1a over UTF-16LE, computed independently: the hash must never change between processes or releases.
    [InlineData("", 2166136261u)]
    [InlineData("a", 723832900u)]
    [InlineData("queue://orders", 106929579u)]
    [InlineData("c-42", 302751285u)]
    public void The_key_hash_is_fixed_FNV_1a(string key, uint expected)
    {
        Assert.Equal(expected, PartitionRules.StableHash(key));
        Assert.Equal((int)(expected % 7), PartitionRules.PartitionOf(key, 7));
    }

    [Fact]
    public void By_destination_keys_on_kind_and_name()
    {
        var rule = PartitionRules.ByDestination;
        // queue://orders hashes to 106929579: partition 1 of 2, 0 of 3.
        Assert.Equal(1, rule.SelectPartition(new Queue("orders"), new TextMessage("a"), 2));
        Assert.Equal(0, rule.SelectPartition(new Queue("orders"), WithKey("c-1"), 3));
        Assert.Equal(PartitionRules.PartitionOf("topic://orders", 5), rule.SelectPartition(new Topic("orders"), new TextMessage(), 5));
        for (int i = 0; i < 50; i++)
        {
            var queue = new Queue("q" + i);
            Assert.Equal(rule.SelectPartition(queue, new TextMessage("one"), 4), rule.SelectPartition(queue, WithKey(i), 4));
        }
    }

    [Fact]
    public void By_property_keys_on_the_value_text_and_falls_back_to_the_destination()
    {
        var rule = PartitionRules.ByProperty("customerId");
        // "c-42" hashes to 302751285: partition 4 of 7, whatever the destination or body.
        Assert.Equal(4, rule.SelectPartition(new Queue("a"), WithKey("c-42"), 7));
        Assert.Equal(4, rule.SelectPartition(new Topic("b"), WithKey("c-42"), 7));
        // Numbers key on their invariant text: 42 and "42" go the same way.
        Assert.Equal(rule.SelectPartition(new Queue("a"), WithKey("42"), 7), rule.SelectPartition(new Queue("z"), WithKey(42), 7));
        Assert.Equal(rule.SelectPartition(new Queue("a"), WithKey("42"), 7), rule.SelectPartition(new Queue("z"), WithKey(42L), 7));
        // Without the property: by destination.
        Assert.Equal(1, rule.SelectPartition(new Queue("orders"), WithKey("c-1", property: "other"), 2));
        Assert.Throws<ArgumentException>(() => PartitionRules.ByProperty(""));
    }

    [Fact]
    public void Hash_rules_spread_keys_over_every_partition()
    {
        var rule = PartitionRules.ByProperty("customerId");
        var counts = new int[4];
        for (int i = 0; i < 1000; i++)
        {
            counts[rule.SelectPartition(new Queue("orders"), WithKey("customer-" + i), 4)]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 150, 350));
    }

    [Fact]
    public void Round_robin_takes_partitions_in_turn_even_under_concurrency()
    {
        var rule = PartitionRules.RoundRobin();
        var queue = new Queue("q");
        Assert.Equal([0, 1, 2, 0, 1, 2, 0], Enumerable.Range(0, 7).Select(_ => rule.SelectPartition(queue, new TextMessage(), 3)));

        var fresh = PartitionRules.RoundRobin();
        var counts = new int[3];
        Parallel.For(0, 3000, _ => Interlocked.Increment(ref counts[fresh.SelectPartition(queue, new TextMessage(), 3)]));
        Assert.Equal([1000, 1000, 1000], counts);
    }

    [Fact]
    public void Every_rule_refuses_a_partition_count_below_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionRules.ByDestination.SelectPartition(new Queue("q"), new TextMessage(), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionRules.ByProperty("k").SelectPartition(new Queue("q"), WithKey("v", "k"), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PartitionRules.RoundRobin().SelectPartition(new Queue("q"), new TextMessage(), 0));
    }
}
