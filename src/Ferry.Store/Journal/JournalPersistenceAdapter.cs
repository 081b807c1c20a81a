using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Ferry.Broker.Storage;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Store.IO;
using Microsoft.Extensions.Logging;

namespace Ferry.Store.Journal;

/// <summary>
/// The broker's store on the embedded journal. Each store operation is one journal record:
/// message added (the message's OpenWire bytes and the durable subscriptions it waits for),
/// message removed (cancelling the add), durable subscription added and removed. A batch is one
/// atomic journal append. The adapter tracks which adds are still live and tells the journal when
/// one is dead, so segments and compaction follow consumption.
/// </summary>
public sealed class JournalPersistenceAdapter : IPersistenceAdapter
{
    private const byte AddMessageType = 1;
    private const byte RemoveMessageType = 2;
    private const byte AddSubscriptionType = 3;
    private const byte RemoveSubscriptionType = 4;

    private readonly object _gate = new();
    private readonly Dictionary<string, StoredMessage> _messages = new(StringComparer.Ordinal);
    private readonly Dictionary<long, long> _subscriptionPositions = [];
    private readonly JournalOptions _options;
    private readonly IFileSystem _fileSystem;
    private readonly ILogger _logger;
    private Journal? _journal;

    public JournalPersistenceAdapter(JournalOptions options, IFileSystem fileSystem, ILogger logger)
    {
        _options = options;
        _fileSystem = fileSystem;
        _logger = logger;
    }

    public string Description => "journal at " + _options.Directory;

    /// <summary>Bytes the journal's segment files hold on disk.</summary>
    public long UsedBytes => _journal?.Stats.StoredBytes ?? 0;

    public Journal Journal => _journal ?? throw new InvalidOperationException("the store is not open");

    public async Task<RecoveredStore> RecoverAsync(CancellationToken cancellationToken)
    {
        _journal = await Journal.OpenAsync(_options, _fileSystem, _logger, cancellationToken);
        var subscriptions = new Dictionary<long, DurableSubscriptionInfo>();
        var order = new List<string>();
        var producers = new Dictionary<string, long>(StringComparer.Ordinal);
        var bodies = new Dictionary<string, Message>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var record in _journal.Recovered)
            {
                switch (record.Type)
                {
                    case AddMessageType:
                        {
                            var (subs, message) = ReadAdd(record.Payload);
                            string key = Key(message.Destination!, message.MessageId!);
                            _messages[key] = new StoredMessage(record.Position, message.Destination!.IsTopic, subs);
                            bodies[key] = message;
                            order.Add(key);
                            if (message.MessageId!.ProducerId is { } producer)
                            {
                                string p = producer.ToString();
                                producers[p] = Math.Max(producers.GetValueOrDefault(p), message.MessageId.ProducerSequenceId);
                            }
                            break;
                        }
                    case RemoveMessageType:
                        {
                            var (key, subscription) = ReadRemove(record.Payload);
                            ApplyRemove(key, subscription);
                            break;
                        }
                    case AddSubscriptionType:
                        {
                            var info = ReadSubscription(record.Payload);
                            subscriptions[info.Id] = info;
                            _subscriptionPositions[info.Id] = record.Position;
                            break;
                        }
                    case RemoveSubscriptionType:
                        {
                            long id = BinaryPrimitives.ReadInt64BigEndian(record.Payload.Span);
                            subscriptions.Remove(id);
                            DropSubscription(id);
                            break;
                        }
                    default:
                        throw new InvalidDataException($"Unknown journal record type {record.Type} at position {record.Position}");
                }
            }
            // A topic message waiting only for subscriptions that no longer exist is dead.
            foreach (var (key, stored) in _messages.ToList())
            {
                if (stored.IsTopic)
                {
                    stored.Pending.RemoveWhere(id => !subscriptions.ContainsKey(id));
                    if (stored.Pending.Count == 0)
                    {
                        _messages.Remove(key);
                        _journal.MarkDead(stored.Position);
                    }
                }
            }
            var messages = new List<RecoveredMessage>(_messages.Count);
            foreach (var key in order)
            {
                if (_messages.TryGetValue(key, out var stored) && stored.Position >= 0)
                {
                    messages.Add(new RecoveredMessage(bodies[key], stored.Pending.ToList()));
                }
            }
            _journal.ReleaseRecovered();
            return new RecoveredStore(messages, subscriptions.Values.ToList(), producers);
        }
    }

    public async ValueTask StoreAsync(StoreBatch batch, CancellationToken cancellationToken)
    {
        var journal = Journal;
        var entries = new List<JournalEntry>(batch.Operations.Count);
        var applied = new List<StoreOperation>(batch.Operations.Count);
        lock (_gate)
        {
            foreach (var operation in batch.Operations)
            {
                switch (operation)
                {
                    case AddMessage add:
                        // An add nobody waits on (an async send) rides along with the next flush, as in KahaDB.
                        entries.Add(new JournalEntry(AddMessageType, WriteAdd(add), Lazy: batch.Durability == StoreDurability.Deferred));
                        applied.Add(add);
                        break;
                    case RemoveMessage remove:
                        {
                            string key = Key(remove.Destination, remove.MessageId);
                            if (!_messages.TryGetValue(key, out var stored))
                            {
                                continue; // never stored (or already gone): nothing to cancel
                            }
                            // Removals asked for without waiting (acks) ride along with the next flush, as KahaDB's do:
                            // lost only with the page cache, they then mean a redelivery, never a loss.
                            entries.Add(new JournalEntry(RemoveMessageType, WriteRemove(key, remove.SubscriptionId), stored.Position,
                                Lazy: batch.Durability == StoreDurability.Deferred));
                            applied.Add(remove);
                            break;
                        }
                    case AddDurableSubscription addSub:
                        entries.Add(new JournalEntry(AddSubscriptionType, WriteSubscription(addSub.Subscription)));
                        applied.Add(addSub);
                        break;
                    case RemoveDurableSubscription removeSub:
                        {
                            if (!_subscriptionPositions.TryGetValue(removeSub.SubscriptionId, out long position))
                            {
                                continue;
                            }
                            var payload = new byte[8];
                            BinaryPrimitives.WriteInt64BigEndian(payload, removeSub.SubscriptionId);
                            entries.Add(new JournalEntry(RemoveSubscriptionType, payload, position));
                            applied.Add(removeSub);
                            break;
                        }
                    default:
                        throw new ArgumentException($"Unknown store operation {operation.GetType().Name}", nameof(batch));
                }
            }
        }
        if (entries.Count == 0)
        {
            return;
        }
        long[] positions = entries.Count == 1
            ? [await journal.AppendAsync(entries[0], cancellationToken)]
            : await journal.AppendBatchAsync(entries, cancellationToken);
        lock (_gate)
        {
            for (int i = 0; i < applied.Count; i++)
            {
                switch (applied[i])
                {
                    case AddMessage add:
                        _messages[Key(add.Message.Destination!, add.Message.MessageId!)] =
                            new StoredMessage(positions[i], add.Message.Destination!.IsTopic, [.. add.Subscriptions ?? []]);
                        break;
                    case RemoveMessage remove:
                        ApplyRemove(Key(remove.Destination, remove.MessageId), remove.SubscriptionId ?? -1);
                        break;
                    case AddDurableSubscription addSub:
                        _subscriptionPositions[addSub.Subscription.Id] = positions[i];
                        break;
                    case RemoveDurableSubscription removeSub:
                        DropSubscription(removeSub.SubscriptionId);
                        break;
                }
            }
        }
    }

    private void ApplyRemove(string key, long subscription)
    {
        if (!_messages.TryGetValue(key, out var stored))
        {
            return;
        }
        if (stored.IsTopic && subscription >= 0)
        {
            stored.Pending.Remove(subscription);
            if (stored.Pending.Count > 0)
            {
                return;
            }
        }
        _messages.Remove(key);
        _journal!.MarkDead(stored.Position);
    }

    private void DropSubscription(long id)
    {
        if (_subscriptionPositions.Remove(id, out long position))
        {
            _journal!.MarkDead(position);
        }
        foreach (var (key, stored) in _messages.ToList())
        {
            if (stored.IsTopic && stored.Pending.Remove(id) && stored.Pending.Count == 0)
            {
                _messages.Remove(key);
                _journal!.MarkDead(stored.Position);
            }
        }
    }

    private static string Key(Destination destination, MessageId id) => destination.QualifiedName + "\n" + id;

    private sealed record StoredMessage(long Position, bool IsTopic, HashSet<long> Pending);

    // ---- record payloads ----

    private static byte[] WriteAdd(AddMessage add)
    {
        var subs = add.Subscriptions ?? [];
        byte[] message = MessageMarshaller.Marshal(add.Message);
        var payload = new byte[4 + subs.Count * 8 + message.Length];
        BinaryPrimitives.WriteInt32BigEndian(payload, subs.Count);
        for (int i = 0; i < subs.Count; i++)
        {
            BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(4 + i * 8), subs[i]);
        }
        message.CopyTo(payload.AsSpan(4 + subs.Count * 8));
        return payload;
    }

    private static (HashSet<long> Subscriptions, Message Message) ReadAdd(ReadOnlyMemory<byte> payload)
    {
        var span = payload.Span;
        int count = BinaryPrimitives.ReadInt32BigEndian(span);
        if (count < 0 || 4 + count * 8L > span.Length)
        {
            throw new InvalidDataException("Corrupt message record: bad subscription count");
        }
        var subs = new HashSet<long>(count);
        for (int i = 0; i < count; i++)
        {
            subs.Add(BinaryPrimitives.ReadInt64BigEndian(span[(4 + i * 8)..]));
        }
        return (subs, MessageMarshaller.Unmarshal(payload[(4 + count * 8)..]));
    }

    private static byte[] WriteRemove(string key, long? subscription)
    {
        var writer = new ArrayBufferWriter<byte>(64 + key.Length);
        WriteString(writer, key);
        BinaryPrimitives.WriteInt64BigEndian(writer.GetSpan(8), subscription ?? -1);
        writer.Advance(8);
        return writer.WrittenSpan.ToArray();
    }

    private static (string Key, long Subscription) ReadRemove(ReadOnlyMemory<byte> payload)
    {
        var span = payload.Span;
        int offset = 0;
        string key = ReadString(span, ref offset) ?? throw new InvalidDataException("Corrupt remove record: no key");
        return (key, BinaryPrimitives.ReadInt64BigEndian(span[offset..]));
    }

    private static byte[] WriteSubscription(DurableSubscriptionInfo info)
    {
        var writer = new ArrayBufferWriter<byte>(128);
        BinaryPrimitives.WriteInt64BigEndian(writer.GetSpan(8), info.Id);
        writer.Advance(8);
        WriteString(writer, info.ClientId);
        WriteString(writer, info.Name);
        writer.GetSpan(1)[0] = (byte)info.Destination.Kind;
        writer.Advance(1);
        WriteString(writer, info.Destination.Name);
        WriteString(writer, info.Selector);
        writer.GetSpan(1)[0] = info.NoLocal ? (byte)1 : (byte)0;
        writer.Advance(1);
        return writer.WrittenSpan.ToArray();
    }

    private static DurableSubscriptionInfo ReadSubscription(ReadOnlyMemory<byte> payload)
    {
        var span = payload.Span;
        long id = BinaryPrimitives.ReadInt64BigEndian(span);
        int offset = 8;
        string clientId = ReadString(span, ref offset)!;
        string name = ReadString(span, ref offset)!;
        var kind = (DestinationKind)span[offset++];
        string destination = ReadString(span, ref offset)!;
        string? selector = ReadString(span, ref offset);
        bool noLocal = span[offset] != 0;
        return new DurableSubscriptionInfo(id, clientId, name, new Destination(kind, destination), selector, noLocal);
    }

    private static void WriteString(ArrayBufferWriter<byte> writer, string? value)
    {
        if (value is null)
        {
            BinaryPrimitives.WriteInt32BigEndian(writer.GetSpan(4), -1);
            writer.Advance(4);
            return;
        }
        int length = Encoding.UTF8.GetByteCount(value);
        var span = writer.GetSpan(4 + length);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        Encoding.UTF8.GetBytes(value, span[4..]);
        writer.Advance(4 + length);
    }

    private static string? ReadString(ReadOnlySpan<byte> span, ref int offset)
    {
        int length = BinaryPrimitives.ReadInt32BigEndian(span[offset..]);
        offset += 4;
        if (length < 0)
        {
            return null;
        }
        if (length > span.Length - offset)
        {
            throw new InvalidDataException("Corrupt journal record: string past the end");
        }
        string value = Encoding.UTF8.GetString(span.Slice(offset, length));
        offset += length;
        return value;
    }

    public async ValueTask DisposeAsync()
    {
        if (_journal is not null)
        {
            await _journal.DisposeAsync();
        }
    }
}
