namespace Ferry.Client.Partitioning;

/// <summary>
/// Decides which partition (connection) of a <see cref="PartitionedProducer"/> sends a message. A rule that
/// must keep related messages in order on one broker has to be deterministic: the same inputs, the same index,
/// in every process (do not use <see cref="string.GetHashCode()"/>, which is randomised per process).
/// </summary>
public interface IPartitionRule
{
    /// <summary>The partition, from 0 to <paramref name="partitionCount"/> − 1, that sends <paramref name="message"/> to <paramref name="destination"/>.</summary>
    /// <param name="destination">Where the message goes.</param>
    /// <param name="message">The message, with its properties set.</param>
    /// <param name="partitionCount">How many partitions there are (at least 1).</param>
    int SelectPartition(Destination destination, Message message, int partitionCount);
}
