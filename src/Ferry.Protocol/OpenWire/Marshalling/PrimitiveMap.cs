using System.Buffers;
using System.Buffers.Binary;

namespace Ferry.Protocol.OpenWire.Marshalling;

/// <summary>
/// ActiveMQ's primitive map and typed-value encoding: message properties, MapMessage bodies,
/// StreamMessage items and WireFormatInfo options. Java types map to: bool, sbyte, char, short,
/// int, long, float, double, string, byte[], nested map (Dictionary) and list (List).
/// </summary>
public static class PrimitiveMap
{
    public const byte NullTag = 0, BooleanTag = 1, ByteTag = 2, CharTag = 3, ShortTag = 4, IntTag = 5, LongTag = 6,
        DoubleTag = 7, FloatTag = 8, StringTag = 9, ByteArrayTag = 10, MapTag = 11, ListTag = 12, BigStringTag = 13;

    /// <summary>Maps larger than this are refused: protects against a hostile count.</summary>
    public const int MaxEntries = 1 << 20;

    /// <summary>Nested maps and lists deeper than this are refused: recursion must not exhaust the stack.</summary>
    public const int MaxDepth = 32;

    public static Dictionary<string, object?>? Decode(ReadOnlySpan<byte> data)
    {
        var reader = new SpanReader(data);
        return ReadMap(ref reader);
    }

    public static byte[]? Encode(IReadOnlyDictionary<string, object?>? map)
    {
        if (map is null)
        {
            return null;
        }
        var buffer = new ArrayBufferWriter<byte>(64 + map.Count * 16);
        WriteMap(buffer, map);
        return buffer.WrittenSpan.ToArray();
    }

    public static Dictionary<string, object?>? ReadMap(ref SpanReader reader, int depth = 0)
    {
        if (depth > MaxDepth)
        {
            throw new ProtocolException($"Primitive maps and lists nested deeper than {MaxDepth} levels");
        }
        int count = reader.ReadInt32();
        if (count < 0)
        {
            return null;
        }
        if (count > MaxEntries || count > reader.Remaining)
        {
            throw new ProtocolException($"Primitive map announces {count} entries, more than its data can hold");
        }
        var map = new Dictionary<string, object?>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string key = reader.ReadUtf();
            map[key] = ReadValue(ref reader, depth);
        }
        return map;
    }

    public static object? ReadValue(ref SpanReader reader, int depth = 0)
    {
        byte tag = reader.ReadByte();
        switch (tag)
        {
            case NullTag: return null;
            case BooleanTag: return reader.ReadByte() != 0;
            case ByteTag: return (sbyte)reader.ReadByte();
            case CharTag: return (char)reader.ReadUInt16();
            case ShortTag: return reader.ReadInt16();
            case IntTag: return reader.ReadInt32();
            case LongTag: return reader.ReadInt64();
            case DoubleTag: return BitConverter.Int64BitsToDouble(reader.ReadInt64());
            case FloatTag: return BitConverter.Int32BitsToSingle(reader.ReadInt32());
            case StringTag: return reader.ReadUtf();
            case BigStringTag:
                {
                    int len = reader.ReadInt32();
                    return ModifiedUtf8.Decode(reader.ReadBytes(len));
                }
            case ByteArrayTag:
                {
                    int len = reader.ReadInt32();
                    return reader.ReadBytes(len).ToArray();
                }
            case MapTag: return ReadMap(ref reader, depth + 1);
            case ListTag:
                {
                    if (depth + 1 > MaxDepth)
                    {
                        throw new ProtocolException($"Primitive maps and lists nested deeper than {MaxDepth} levels");
                    }
                    int count = reader.ReadInt32();
                    if (count < 0 || count > reader.Remaining)
                    {
                        throw new ProtocolException($"Primitive list announces {count} items, more than its data can hold");
                    }
                    var list = new List<object?>(count);
                    for (int i = 0; i < count; i++)
                    {
                        list.Add(ReadValue(ref reader, depth + 1));
                    }
                    return list;
                }
            default:
                throw new ProtocolException($"Unknown primitive type tag {tag}");
        }
    }

    public static void WriteMap(IBufferWriter<byte> output, IReadOnlyDictionary<string, object?> map)
    {
        WriteInt32(output, map.Count);
        foreach (var (key, value) in map)
        {
            WriteUtf(output, key);
            WriteValue(output, value);
        }
    }

    public static void WriteValue(IBufferWriter<byte> output, object? value)
    {
        switch (value)
        {
            case null: WriteByte(output, NullTag); break;
            case bool b: WriteByte(output, BooleanTag); WriteByte(output, b ? (byte)1 : (byte)0); break;
            case sbyte sb: WriteByte(output, ByteTag); WriteByte(output, (byte)sb); break;
            case byte ub: WriteByte(output, ByteTag); WriteByte(output, ub); break;
            case char c: WriteByte(output, CharTag); WriteInt16(output, (short)c); break;
            case short s: WriteByte(output, ShortTag); WriteInt16(output, s); break;
            case int i: WriteByte(output, IntTag); WriteInt32(output, i); break;
            case long l: WriteByte(output, LongTag); WriteInt64(output, l); break;
            case double d: WriteByte(output, DoubleTag); WriteInt64(output, BitConverter.DoubleToInt64Bits(d)); break;
            case float f: WriteByte(output, FloatTag); WriteInt32(output, BitConverter.SingleToInt32Bits(f)); break;
            case string str:
                // Java switches to the big-string form at 8191 UTF-16 units.
                if (str.Length < 8191)
                {
                    WriteByte(output, StringTag);
                    WriteUtf(output, str);
                }
                else
                {
                    WriteByte(output, BigStringTag);
                    int n = ModifiedUtf8.GetByteCount(str);
                    WriteInt32(output, n);
                    ModifiedUtf8.Encode(str, output.GetSpan(n));
                    output.Advance(n);
                }
                break;
            case byte[] bytes:
                WriteByte(output, ByteArrayTag);
                WriteInt32(output, bytes.Length);
                output.Write(bytes);
                break;
            case IReadOnlyDictionary<string, object?> nested: WriteByte(output, MapTag); WriteMap(output, nested); break;
            case IReadOnlyList<object?> list:
                WriteByte(output, ListTag);
                WriteInt32(output, list.Count);
                foreach (var item in list)
                {
                    WriteValue(output, item);
                }
                break;
            default:
                throw new ArgumentException($"Type {value.GetType()} cannot be carried in an OpenWire map", nameof(value));
        }
    }

    public static void WriteUtf(IBufferWriter<byte> output, string value)
    {
        int n = ModifiedUtf8.GetByteCount(value);
        if (n > ushort.MaxValue)
        {
            throw new ArgumentException($"String of {n} encoded bytes exceeds the 65535-byte limit", nameof(value));
        }
        var span = output.GetSpan(n + 2);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)n);
        ModifiedUtf8.Encode(value, span[2..]);
        output.Advance(n + 2);
    }

    private static void WriteByte(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    private static void WriteInt16(IBufferWriter<byte> output, short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(output.GetSpan(2), value);
        output.Advance(2);
    }

    public static void WriteInt32(IBufferWriter<byte> output, int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    private static void WriteInt64(IBufferWriter<byte> output, long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(output.GetSpan(8), value);
        output.Advance(8);
    }
}

/// <summary>Big-endian reads over a span, failing with a ProtocolException instead of running off the end.</summary>
public ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public SpanReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly int Remaining => _data.Length - _position;
    public readonly int Position => _position;

    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count < 0 || count > Remaining)
        {
            throw new ProtocolException($"Field announces {count} bytes but only {Remaining} remain");
        }
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    public byte ReadByte() => ReadBytes(1)[0];
    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(ReadBytes(2));
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(ReadBytes(2));
    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(ReadBytes(4));
    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(ReadBytes(8));
    public string ReadUtf() => ModifiedUtf8.Decode(ReadBytes(ReadUInt16()));
}
