using System.Buffers.Binary;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.OpenWire.Marshalling;

/// <summary>Reads the loose encoding: every field in full, in the order its type describes.</summary>
internal sealed class LooseReader() : FieldVisitor(isReader: true)
{
    private const int MaxDepth = 32;
    private ReadOnlyMemory<byte> _data;
    private int _pos;
    private int _depth;
    private MarshalCache? _cache;
    private bool _stackTraces;
    // Created on the first string, so an idle connection does not pay for it.
    private RecentStrings? _strings;

    public void Reset(ReadOnlyMemory<byte> data, int version, MarshalCache? cache, bool stackTraces)
    {
        _data = data;
        _pos = 0;
        _depth = 0;
        Version = version;
        _cache = cache;
        _stackTraces = stackTraces;
    }

    public int Position => _pos;

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _data.Length - _pos)
        {
            throw new ProtocolException($"Truncated frame: field needs {count} bytes, {_data.Length - _pos} remain");
        }
        var span = _data.Span.Slice(_pos, count);
        _pos += count;
        return span;
    }

    public byte ReadByte() => Take(1)[0];

    public override void Bool(ref bool value) => value = Take(1)[0] != 0;
    public override void Byte(ref byte value) => value = Take(1)[0];
    public override void SByte(ref sbyte value) => value = (sbyte)Take(1)[0];
    public override void Short(ref short value) => value = BinaryPrimitives.ReadInt16BigEndian(Take(2));
    public override void Int(ref int value) => value = BinaryPrimitives.ReadInt32BigEndian(Take(4));
    public override void Long(ref long value) => value = BinaryPrimitives.ReadInt64BigEndian(Take(8));
    public override void Magic(ref byte[]? value) => value = Take(8).ToArray();

    public override void String(ref string? value)
    {
        bool present = false;
        Bool(ref present);
        value = present ? (_strings ??= new()).Get(Take(BinaryPrimitives.ReadUInt16BigEndian(Take(2))), latin1: false) : null;
    }

    public override void Bytes(ref byte[]? value)
    {
        bool present = false;
        Bool(ref present);
        value = present ? Take(BinaryPrimitives.ReadInt32BigEndian(Take(4))).ToArray() : null;
    }

    protected override DataStructure? VisitNested(DataStructure? value) => ReadNested();

    protected override DataStructure? VisitCached(DataStructure? value)
    {
        if (_cache is null)
        {
            return ReadNested();
        }
        bool isNew = false;
        Bool(ref isNew);
        short index = BinaryPrimitives.ReadInt16BigEndian(Take(2));
        return isNew ? _cache.Store(index, ReadNested()) : _cache.Get(index);
    }

    protected override int VisitArrayLength(int length)
    {
        bool present = false;
        Bool(ref present);
        if (!present)
        {
            return -1;
        }
        short count = BinaryPrimitives.ReadInt16BigEndian(Take(2));
        if (count < 0 || count > _data.Length - _pos)
        {
            throw new ProtocolException($"Array announces {count} elements, more than the frame holds");
        }
        return count;
    }

    public DataStructure? ReadNested()
    {
        bool present = false;
        Bool(ref present);
        return present ? ReadObject(ReadByte()) : null;
    }

    public DataStructure ReadObject(byte type)
    {
        if (++_depth > MaxDepth)
        {
            throw new ProtocolException($"Objects nested deeper than {MaxDepth} levels");
        }
        var obj = DataStructureFactory.Create(type, Version);
        obj.Describe(this);
        _depth--;
        return obj;
    }

    public override void Throwable(ref BrokerError? value)
    {
        bool present = false;
        Bool(ref present);
        if (!present)
        {
            value = null;
            return;
        }
        if (++_depth > MaxDepth)
        {
            throw new ProtocolException($"Exception causes nested deeper than {MaxDepth} levels");
        }
        string? cls = null, msg = null;
        String(ref cls);
        String(ref msg);
        var error = new BrokerError { ExceptionClass = cls, Message = msg };
        if (_stackTraces)
        {
            short count = BinaryPrimitives.ReadInt16BigEndian(Take(2));
            if (count < 0 || count > _data.Length - _pos)
            {
                throw new ProtocolException($"Stack trace announces {count} frames, more than the frame holds");
            }
            var frames = new StackTraceFrame[count];
            for (int i = 0; i < count; i++)
            {
                string? c = null, m = null, f = null;
                int line = 0;
                String(ref c);
                String(ref m);
                String(ref f);
                Int(ref line);
                frames[i] = new StackTraceFrame(c, m, f, line);
            }
            error.StackTrace = frames;
            BrokerError? cause = null;
            Throwable(ref cause);
            error.Cause = cause;
        }
        _depth--;
        value = error;
    }
}

/// <summary>Writes the loose encoding into a frame buffer.</summary>
internal sealed class LooseWriter() : FieldVisitor(isReader: false)
{
    private FrameBuffer _out = null!;
    private MarshalCache? _cache;
    private bool _stackTraces;

    public void Reset(FrameBuffer output, int version, MarshalCache? cache, bool stackTraces, int spliceThreshold = int.MaxValue)
    {
        _out = output;
        Version = version;
        _cache = cache;
        _stackTraces = stackTraces;
        _splice = new BodySplice(spliceThreshold);
    }

    private BodySplice _splice;

    /// <summary>The array left out of the frame, if one was; its offset counts from the frame's start.</summary>
    public BodySplice TakeSplice() => _splice;

    public override void Bool(ref bool value) => _out.WriteByte(value ? (byte)1 : (byte)0);
    public override void Byte(ref byte value) => _out.WriteByte(value);
    public override void SByte(ref sbyte value) => _out.WriteByte((byte)value);
    public override void Short(ref short value) => _out.WriteInt16(value);
    public override void Int(ref int value) => _out.WriteInt32(value);
    public override void Long(ref long value) => _out.WriteInt64(value);
    public override void Magic(ref byte[]? value) => _out.Write(value ?? WireFormatInfo.MagicBytes);

    public override void String(ref string? value)
    {
        if (value is null)
        {
            _out.WriteByte(0);
            return;
        }
        _out.WriteByte(1);
        WriteUtf(_out, value);
    }

    internal static void WriteUtf(FrameBuffer output, string value)
    {
        int n = ModifiedUtf8.GetByteCount(value);
        if (n > ushort.MaxValue)
        {
            throw new ArgumentException($"String of {n} encoded bytes exceeds OpenWire's 65535-byte limit", nameof(value));
        }
        var span = output.GetSpan(n + 2);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)n);
        ModifiedUtf8.Encode(value, span[2..]);
        output.Advance(n + 2);
    }

    public override void Bytes(ref byte[]? value)
    {
        if (value is null)
        {
            _out.WriteByte(0);
            return;
        }
        _out.WriteByte(1);
        _out.WriteInt32(value.Length);
        if (value.Length >= _splice.Threshold && _splice.Array is null)
        {
            _splice.Array = value;
            _splice.Offset = _out.Length;
            return;
        }
        _out.Write(value);
    }

    internal override void SharedHeader(Message message, SharedHeaderEncoding? shared)
    {
        if (shared is null || _cache is not null)
        {
            message.DescribeHeader(this);
            return;
        }
        if (shared.Find(tight: false, Version) is { } header)
        {
            _out.Write(header.Data);
            return;
        }
        int start = _out.Length;
        // The kept bytes must be whole: no array of the header (an XA transaction id) may be left out for splicing.
        var splice = _splice;
        _splice = new BodySplice(int.MaxValue);
        message.DescribeHeader(this);
        _splice = splice;
        shared.Keep(tight: false, new EncodedHeader(Version, _out.WrittenSpan[start..].ToArray(), [], 0));
    }

    protected override DataStructure? VisitNested(DataStructure? value)
    {
        WriteNested(value);
        return value;
    }

    protected override DataStructure? VisitCached(DataStructure? value)
    {
        if (_cache is not null)
        {
            if (_cache.TryGetWriteIndex(value, out short index, out var key))
            {
                _out.WriteByte(0);
                _out.WriteInt16(index);
                return value;
            }
            // The index is taken first (ActiveMQ's loose numbering) but bound after the nested value, when the reader stores it.
            index = _cache.Claim();
            _out.WriteByte(1);
            _out.WriteInt16(index);
            WriteNested(value);
            _cache.Bind(index, key);
            return value;
        }
        WriteNested(value);
        return value;
    }

    protected override int VisitArrayLength(int length)
    {
        if (length < 0)
        {
            _out.WriteByte(0);
            return length;
        }
        _out.WriteByte(1);
        _out.WriteInt16(checked((short)length));
        return length;
    }

    public void WriteNested(DataStructure? value)
    {
        if (value is null)
        {
            _out.WriteByte(0);
            return;
        }
        _out.WriteByte(1);
        _out.WriteByte(value.DataType);
        value.Describe(this);
    }

    public override void Throwable(ref BrokerError? value)
    {
        if (value is null)
        {
            _out.WriteByte(0);
            return;
        }
        _out.WriteByte(1);
        string? cls = value.ExceptionClass, msg = value.Message;
        String(ref cls);
        String(ref msg);
        if (_stackTraces)
        {
            _out.WriteInt16((short)value.StackTrace.Count);
            foreach (var frame in value.StackTrace)
            {
                string? c = frame.DeclaringClass, m = frame.MethodName, f = frame.FileName;
                String(ref c);
                String(ref m);
                String(ref f);
                _out.WriteInt32(frame.LineNumber);
            }
            var cause = value.Cause;
            Throwable(ref cause);
        }
    }
}
