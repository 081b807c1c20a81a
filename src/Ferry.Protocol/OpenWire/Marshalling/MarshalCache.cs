using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.OpenWire.Marshalling;

/// <summary>
/// One direction's marshal cache table (section 4.8): indexes name earlier values. A reading side stores what
/// the peer sends; a writing side also looks values up, so an id or destination sent before goes as its index
/// (2 bytes) instead of again in full, as ActiveMQ's writers do. Both sides' tables grow on use: a connection
/// that negotiated the cache and sends little holds little.
/// </summary>
internal sealed class MarshalCache
{
    private readonly int _size;
    private DataStructure?[] _table = [];
    private int _next;
    // Writing side only: the value each index holds, by a snapshot of its fields (the objects' fields are
    // mutable; a key taken when the value went out cannot change under the dictionary).
    private Dictionary<CacheKey, short>? _indexes;
    private CacheKey[] _keys = [];

    public MarshalCache(int size) => _size = size;

    public DataStructure? Store(short index, DataStructure? value)
    {
        if (index == -1)
        {
            return value; // the peer's table was full: sent in full, not kept (ActiveMQ's writers do this)
        }
        CheckIndex(index);
        Grow(ref _table, index);
        _table[index] = value;
        return value;
    }

    public DataStructure? Get(short index)
    {
        CheckIndex(index);
        return index < _table.Length ? _table[index] : null;
    }

    private void CheckIndex(short index)
    {
        if (index < 0 || index >= _size)
        {
            throw new ProtocolException($"Marshal cache index {index} is outside the negotiated size {_size}");
        }
    }

    /// <summary>
    /// Writing side: the index an equal value was sent under and the peer still holds, if any; otherwise the key
    /// to <see cref="Bind"/> the value under once it went out as a new entry.
    /// </summary>
    public bool TryGetWriteIndex(DataStructure? value, out short index, out CacheKey key)
    {
        index = 0;
        key = CacheKey.Of(value);
        return key.Type != 0 && _indexes is not null && _indexes.TryGetValue(key, out index);
    }

    /// <summary>Writing side: the next index, rolling (once the table is full the oldest slot is reused, as the peer reuses it).</summary>
    public short Claim()
    {
        short index = (short)_next;
        _next = (_next + 1) % _size;
        return index;
    }

    /// <summary>
    /// Writing side: records that the slot now holds <paramref name="key"/>'s value. Called when the peer stores it:
    /// after the value's own cached fields (a nested value is stored before the one holding it), so both tables
    /// agree even when those fields reuse the same slot.
    /// </summary>
    public void Bind(short index, CacheKey key)
    {
        _indexes ??= [];
        Grow(ref _keys, index);
        var replaced = _keys[index];
        if (replaced.Type != 0 && _indexes.TryGetValue(replaced, out short at) && at == index)
        {
            _indexes.Remove(replaced);
        }
        _keys[index] = key;
        if (key.Type != 0)
        {
            _indexes[key] = index;
        }
    }

    /// <summary>Makes room for <paramref name="index"/>: doubling from 16, never past the negotiated size.</summary>
    private void Grow<T>(ref T[] table, int index)
    {
        if (index >= table.Length)
        {
            Array.Resize(ref table, Math.Min(_size, Math.Max(index + 1, Math.Max(16, table.Length * 2))));
        }
    }

    /// <summary>A cached value's identity: its type and fields (Type 0: none).</summary>
    internal readonly record struct CacheKey(byte Type, string? Text, string? Text2, long A, long B)
    {
        public static CacheKey Of(DataStructure? value) => value switch
        {
            // Null is a value too (ActiveMQ's table keeps it): an absent transaction id or original destination
            // goes as an index after the first, instead of taking a new slot in every message.
            null => new(byte.MaxValue, null, null, 0, 0),
            ConnectionId c => new(DataTypes.ConnectionId, c.Value, null, 0, 0),
            SessionId s => new(DataTypes.SessionId, s.ConnectionId, null, s.Value, 0),
            ConsumerId c => new(DataTypes.ConsumerId, c.ConnectionId, null, c.SessionId, c.Value),
            ProducerId p => new(DataTypes.ProducerId, p.ConnectionId, null, p.SessionId, p.Value),
            BrokerId b => new(DataTypes.BrokerId, b.Value, null, 0, 0),
            Destination d => new(d.DataType, d.PhysicalName, null, 0, 0),
            LocalTransactionId t => new(DataTypes.LocalTransactionId, t.ConnectionId?.Value, t.ConnectionId is null ? null : "", t.Value, 0),
            XATransactionId x => new(DataTypes.XATransactionId, Convert.ToHexString(x.GlobalTransactionId ?? []), Convert.ToHexString(x.BranchQualifier ?? []),
                x.FormatId, (x.GlobalTransactionId is null ? 1 : 0) | (x.BranchQualifier is null ? 2 : 0)),
            _ => default, // never looked up: always sent as a new entry
        };
    }
}
