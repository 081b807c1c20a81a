using System.Collections.Concurrent;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker;

/// <summary>
/// The highest message sequence accepted per producer, so a message resent after a client
/// failover (same producer id and sequence) is stored and delivered once. Bounded: the oldest
/// producers are forgotten first.
/// </summary>
public sealed class ProducerAudit
{
    // Keyed by the id's parts, not its text: building "connection:session:value" twice per message
    // was a measurable share of a non-persistent send's allocations.
    private readonly ConcurrentDictionary<ProducerKey, long> _last = new();
    private readonly ConcurrentQueue<ProducerKey> _order = new();
    private readonly int _maxProducers;

    /// <summary>Producers remembered by default; stores that keep producer sequences keep as many.</summary>
    public const int DefaultMaxProducers = 64 * 1024;

    public ProducerAudit(int maxProducers = DefaultMaxProducers) => _maxProducers = maxProducers;

    public int Count => _last.Count;

    public bool IsDuplicate(MessageId id) =>
        id.ProducerId is { } producer && _last.TryGetValue(ProducerKey.Of(producer), out long last) && id.ProducerSequenceId <= last;

    public void Record(MessageId id)
    {
        if (id.ProducerId is not { } producer)
        {
            return;
        }
        Record(ProducerKey.Of(producer), id.ProducerSequenceId);
    }

    /// <summary>Records a producer named by its text form (<see cref="ProducerId.ToString"/>), as stores keep it.</summary>
    public void Record(string producer, long sequence) => Record(ProducerKey.Parse(producer), sequence);

    private void Record(ProducerKey producer, long sequence)
    {
        bool added = false;
        _last.AddOrUpdate(producer, _ => { added = true; return sequence; }, (_, old) => Math.Max(old, sequence));
        if (added)
        {
            _order.Enqueue(producer);
            while (_last.Count > _maxProducers && _order.TryDequeue(out var oldest))
            {
                _last.TryRemove(oldest, out _);
            }
        }
    }

    private readonly record struct ProducerKey(string ConnectionId, long SessionId, long Value)
    {
        public static ProducerKey Of(ProducerId id) => new(id.ConnectionId ?? "", id.SessionId, id.Value);

        /// <summary>"connection:session:value"; the connection id itself may contain colons.</summary>
        public static ProducerKey Parse(string text)
        {
            int valueColon = text.LastIndexOf(':');
            int sessionColon = valueColon > 0 ? text.LastIndexOf(':', valueColon - 1) : -1;
            if (sessionColon >= 0
                && long.TryParse(text.AsSpan(sessionColon + 1, valueColon - sessionColon - 1), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long session)
                && long.TryParse(text.AsSpan(valueColon + 1), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long value))
            {
                return new(text[..sessionColon], session, value);
            }
            // Not an id's text form: it can only ever equal itself.
            return new(text, long.MinValue, long.MinValue);
        }
    }
}
