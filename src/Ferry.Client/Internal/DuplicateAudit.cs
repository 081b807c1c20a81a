using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client.Internal;

/// <summary>
/// Remembers which messages a consumer was dispatched, by producer id and sequence, so a message the
/// broker dispatches again (after a failover) never reaches the application twice. Bounded: at most
/// <c>depth</c> sequences per producer and <c>maxProducers</c> producers (the least recently seen go first).
/// </summary>
internal sealed class DuplicateAudit(int depth, int maxProducers)
{
    private readonly Dictionary<Wire.ProducerId, ProducerWindow> _producers = [];
    private readonly LinkedList<Wire.ProducerId> _recency = new();

    /// <summary>Records <paramref name="id"/>; returns true if it was already recorded.</summary>
    public bool IsDuplicate(Wire.MessageId? id)
    {
        if (id?.ProducerId is not { } producer)
        {
            return false;
        }
        lock (_producers)
        {
            if (!_producers.TryGetValue(producer, out var window))
            {
                if (_producers.Count >= maxProducers && _recency.First is { } oldest)
                {
                    _producers.Remove(oldest.Value);
                    _recency.RemoveFirst();
                }
                window = new ProducerWindow(_recency.AddLast(producer));
                _producers[producer] = window;
            }
            else
            {
                _recency.Remove(window.Node);
                _recency.AddLast(window.Node);
            }
            if (!window.Seen.Add(id.ProducerSequenceId))
            {
                return true;
            }
            window.Order.Enqueue(id.ProducerSequenceId);
            if (window.Order.Count > depth)
            {
                window.Seen.Remove(window.Order.Dequeue());
            }
            return false;
        }
    }

    private sealed class ProducerWindow(LinkedListNode<Wire.ProducerId> node)
    {
        public LinkedListNode<Wire.ProducerId> Node { get; } = node;
        public HashSet<long> Seen { get; } = [];
        public Queue<long> Order { get; } = new();
    }
}
