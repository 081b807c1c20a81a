using System.Globalization;

namespace Ferry.Client.Partitioning;

/// <summary>The built-in <see cref="IPartitionRule"/>s.</summary>
public static class PartitionRules
{
    /// <summary>Every message to one destination goes through the same partition: a stable hash of the destination's kind and name.</summary>
    public static IPartitionRule ByDestination { get; } = new DestinationHashRule();

    /// <summary>
    /// Every message with the same value of the property <paramref name="propertyName"/> (for example <c>customerId</c>) goes
    /// through the same partition: a stable hash of the value's invariant text, so <c>42</c> and <c>"42"</c> go the same way.
    /// A message without the property goes by its destination, as <see cref="ByDestination"/>.
    /// </summary>
    public static IPartitionRule ByProperty(string propertyName) => new PropertyHashRule(propertyName);

    /// <summary>A new round-robin rule: partitions in turn, 0, 1, …, n − 1, 0, … (safe for concurrent callers).</summary>
    public static IPartitionRule RoundRobin() => new RoundRobinRule();

    /// <summary>
    /// The partition of <paramref name="key"/> among <paramref name="partitionCount"/>: its 32-bit FNV-1a hash over the
    /// UTF-16 code units, modulo the count. The same in every process and on every platform.
    /// </summary>
    public static int PartitionOf(string key, int partitionCount)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        return (int)(StableHash(key) % (uint)partitionCount);
    }

    /// <summary>32-bit FNV-1a over the UTF-16 code units (low byte, then high byte).</summary>
    internal static uint StableHash(string key)
    {
        const uint Offset = 2166136261;
        const uint Prime = 16777619;
        uint hash = Offset;
        foreach (char c in key)
        {
            hash = (hash ^ (byte)c) * Prime;
            hash = (hash ^ (byte)(c >> 8)) * Prime;
        }
        return hash;
    }

    private sealed class DestinationHashRule : IPartitionRule
    {
        public int SelectPartition(Destination destination, Message message, int partitionCount)
        {
            ArgumentNullException.ThrowIfNull(destination);
            return PartitionOf(destination.ToString(), partitionCount);
        }

        public override string ToString() => "by destination";
    }

    private sealed class PropertyHashRule : IPartitionRule
    {
        private readonly string _propertyName;

        public PropertyHashRule(string propertyName)
        {
            ArgumentException.ThrowIfNullOrEmpty(propertyName);
            _propertyName = propertyName;
        }

        public int SelectPartition(Destination destination, Message message, int partitionCount)
        {
            ArgumentNullException.ThrowIfNull(destination);
            ArgumentNullException.ThrowIfNull(message);
            return message.Properties[_propertyName] is { } value
                ? PartitionOf(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "", partitionCount)
                : PartitionOf(destination.ToString(), partitionCount);
        }

        public override string ToString() => $"by property '{_propertyName}'";
    }

    private sealed class RoundRobinRule : IPartitionRule
    {
        private long _next = -1;

        public int SelectPartition(Destination destination, Message message, int partitionCount)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
            return (int)((ulong)Interlocked.Increment(ref _next) % (ulong)partitionCount);
        }

        public override string ToString() => "round robin";
    }
}
