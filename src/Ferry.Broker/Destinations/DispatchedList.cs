using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Destinations;

/// <summary>
/// A subscription's dispatched, unacknowledged messages in dispatch order. Acks almost always take
/// the oldest entries, so the list keeps a head offset: removing from the front is O(removed), not a
/// shift of the whole prefetch window (up to thousands of entries) on every ack.
/// </summary>
public sealed class DispatchedList : IEnumerable<MessageReference>
{
    private MessageReference?[] _items = new MessageReference?[16];
    private int _head;
    private int _count;

    public int Count => _count;

    public MessageReference this[int index] => _items[_head + index]!;

    public void Add(MessageReference reference)
    {
        if (_head + _count == _items.Length)
        {
            MakeRoom();
        }
        _items[_head + _count++] = reference;
    }

    /// <summary>The index of the message with this id, or -1; searched from the oldest.</summary>
    public int IndexOf(MessageId id)
    {
        for (int i = _head, end = _head + _count; i < end; i++)
        {
            if (_items[i]!.Id.Equals(id))
            {
                return i - _head;
            }
        }
        return -1;
    }

    /// <summary>Appends entries [first, first + count) to <paramref name="target"/>.</summary>
    public void CopyTo(int first, int count, List<MessageReference> target)
    {
        for (int i = 0; i < count; i++)
        {
            target.Add(_items[_head + first + i]!);
        }
    }

    public void RemoveRange(int first, int count)
    {
        if (first == 0)
        {
            Array.Clear(_items, _head, count);
            _head += count;
            _count -= count;
            if (_count == 0)
            {
                _head = 0;
            }
            return;
        }
        int start = _head + first;
        Array.Copy(_items, start + count, _items, start, _count - first - count);
        _count -= count;
        Array.Clear(_items, _head + _count, count);
    }

    public void RemoveAt(int index) => RemoveRange(index, 1);

    public bool Remove(MessageReference reference)
    {
        int index = Array.IndexOf(_items, reference, _head, _count);
        if (index < 0)
        {
            return false;
        }
        RemoveRange(index - _head, 1);
        return true;
    }

    public void Clear()
    {
        Array.Clear(_items, _head, _count);
        _head = 0;
        _count = 0;
    }

    public List<MessageReference> ToList()
    {
        var list = new List<MessageReference>(_count);
        CopyTo(0, _count, list);
        return list;
    }

    /// <summary>Moves the live entries to the front, or grows the array when they fill most of it.</summary>
    private void MakeRoom()
    {
        var target = _count > _items.Length / 2 ? new MessageReference?[_items.Length * 2] : _items;
        Array.Copy(_items, _head, target, 0, _count);
        if (target == _items)
        {
            Array.Clear(_items, _count, _head);
        }
        _items = target;
        _head = 0;
    }

    public IEnumerator<MessageReference> GetEnumerator()
    {
        for (int i = 0; i < _count; i++)
        {
            yield return _items[_head + i]!;
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
