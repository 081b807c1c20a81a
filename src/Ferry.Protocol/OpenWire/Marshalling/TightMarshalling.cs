using System.Buffers.Binary;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.OpenWire.Marshalling;

/// <summary>
/// Reads the tight encoding: one BooleanStream per frame holds every flag of every nested object,
/// the data section holds the rest, both in field order.
/// </summary>
internal sealed class TightReader() : FieldVisitor(isReader: true)
{
    private const int MaxDepth = 32;
    private ReadOnlyMemory<byte> _data;
    private int _pos;
    private ReadOnlyMemory<byte> _bits;
    private int _bitPos;
    private int _depth;
    private MarshalCache? _cache;
    private bool _stackTraces;
    // Created on the first string, so an idle connection does not pay for it.
    private RecentStrings? _strings;

    /// <summary>Positions on a frame body that starts with the BooleanStream.</summary>
    public void Reset(ReadOnlyMemory<byte> body, int version, MarshalCache? cache, bool stackTraces)
    {
        _data = body;
        _pos = 0;
        _depth = 0;
        Version = version;
        _cache = cache;
        _stackTraces = stackTraces;
        int length = Take(1)[0];
        if (length == 0xC0)
        {
            length = Take(1)[0];
        }
        else if (length == 0x80)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(Take(2));
        }
        _bits = _data.Slice(_pos, Math.Min(length, _data.Length - _pos));
        Take(length);
        _bitPos = 0;
    }

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

    private bool Bit()
    {
        int byteIndex = _bitPos >> 3;
        if (byteIndex >= _bits.Length)
        {
            throw new ProtocolException("Truncated frame: boolean stream exhausted");
        }
        bool bit = (_bits.Span[byteIndex] & (1 << (_bitPos & 7))) != 0;
        _bitPos++;
        return bit;
    }

    public override void Bool(ref bool value) => value = Bit();
    public override void Byte(ref byte value) => value = Take(1)[0];
    public override void SByte(ref sbyte value) => value = (sbyte)Take(1)[0];
    public override void Short(ref short value) => value = BinaryPrimitives.ReadInt16BigEndian(Take(2));
    public override void Int(ref int value) => value = BinaryPrimitives.ReadInt32BigEndian(Take(4));
    public override void Magic(ref byte[]? value) => value = Take(8).ToArray();

    public override void Long(ref long value)
    {
        if (Bit())
        {
            value = Bit() ? BinaryPrimitives.ReadInt64BigEndian(Take(8)) : BinaryPrimitives.ReadUInt32BigEndian(Take(4));
        }
        else
        {
            value = Bit() ? BinaryPrimitives.ReadUInt16BigEndian(Take(2)) : 0;
        }
    }

    public override void String(ref string? value)
    {
        if (!Bit())
        {
            value = null;
            return;
        }
        if (Bit())
        {
            // ASCII form: i16 char count, one byte per char.
            int count = BinaryPrimitives.ReadInt16BigEndian(Take(2));
            value = (_strings ??= new()).Get(Take(count), latin1: true);
        }
        else
        {
            value = (_strings ??= new()).Get(Take(BinaryPrimitives.ReadUInt16BigEndian(Take(2))), latin1: false);
        }
    }

    public override void Bytes(ref byte[]? value) =>
        value = Bit() ? Take(BinaryPrimitives.ReadInt32BigEndian(Take(4))).ToArray() : null;

    protected override DataStructure? VisitNested(DataStructure? value) => ReadNested();

    private DataStructure? ReadNested() => Bit() ? ReadObject(Take(1)[0], nested: true) : null;

    public DataStructure ReadObject(byte type, bool nested)
    {
        if (++_depth > MaxDepth)
        {
            throw new ProtocolException($"Objects nested deeper than {MaxDepth} levels");
        }
        var obj = DataStructureFactory.Create(type, Version);
        if (nested && obj.IsMarshallAware && Bit())
        {
            throw new ProtocolException("Pre-marshalled nested objects are not supported");
        }
        obj.Describe(this);
        _depth--;
        return obj;
    }

    protected override DataStructure? VisitCached(DataStructure? value)
    {
        if (_cache is null)
        {
            return ReadNested();
        }
        bool isNew = Bit();
        short index = BinaryPrimitives.ReadInt16BigEndian(Take(2));
        return isNew ? _cache.Store(index, ReadNested()) : _cache.Get(index);
    }

    protected override int VisitArrayLength(int length)
    {
        if (!Bit())
        {
            return -1;
        }
        short count = BinaryPrimitives.ReadInt16BigEndian(Take(2));
        // Each element costs at least its notNull bit (a null element has no data bytes).
        if (count < 0 || count > _bits.Length * 8 - _bitPos)
        {
            throw new ProtocolException($"Array announces {count} elements, more than the frame holds");
        }
        return count;
    }

    public override void Throwable(ref BrokerError? value)
    {
        if (!Bit())
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

/// <summary>Writes the tight encoding: flags into a BooleanStream, the rest into a data buffer.</summary>
internal sealed class TightWriter() : FieldVisitor(isReader: false)
{
    private FrameBuffer _data = null!;
    private byte[] _bits = new byte[64];
    private int _bitCount;
    private MarshalCache? _cache;
    private bool _stackTraces;

    public void Reset(FrameBuffer data, int version, MarshalCache? cache, bool stackTraces, int spliceThreshold = int.MaxValue)
    {
        _data = data;
        Version = version;
        _cache = cache;
        _stackTraces = stackTraces;
        _bitCount = 0;
        _splice = new BodySplice(spliceThreshold);
    }

    private BodySplice _splice;

    /// <summary>The array left out of the data section, its offset moved to count from the frame's start.</summary>
    public BodySplice TakeSplice(int dataStartsAt)
    {
        var splice = _splice;
        splice.Offset += dataStartsAt;
        return splice;
    }

    /// <summary>The BooleanStream with its length prefix, written after the frame is walked.</summary>
    public void WriteBooleanStream(FrameBuffer output)
    {
        int length = (_bitCount + 7) >> 3;
        if (length < 64)
        {
            output.WriteByte((byte)length);
        }
        else if (length < 256)
        {
            output.WriteByte(0xC0);
            output.WriteByte((byte)length);
        }
        else
        {
            output.WriteByte(0x80);
            output.WriteInt16((short)length);
        }
        output.Write(_bits.AsSpan(0, length));
    }

    public int BooleanStreamSize
    {
        get
        {
            int length = (_bitCount + 7) >> 3;
            return length + (length < 64 ? 1 : length < 256 ? 2 : 3);
        }
    }

    private void Bit(bool value)
    {
        int byteIndex = _bitCount >> 3;
        if (byteIndex >= _bits.Length)
        {
            System.Array.Resize(ref _bits, _bits.Length * 2);
        }
        if ((_bitCount & 7) == 0)
        {
            _bits[byteIndex] = 0;
        }
        if (value)
        {
            _bits[byteIndex] |= (byte)(1 << (_bitCount & 7));
        }
        _bitCount++;
    }

    public override void Bool(ref bool value) => Bit(value);
    public override void Byte(ref byte value) => _data.WriteByte(value);
    public override void SByte(ref sbyte value) => _data.WriteByte((byte)value);
    public override void Short(ref short value) => _data.WriteInt16(value);
    public override void Int(ref int value) => _data.WriteInt32(value);
    public override void Magic(ref byte[]? value) => _data.Write(value ?? WireFormatInfo.MagicBytes);

    public override void Long(ref long value)
    {
        ulong u = (ulong)value;
        if (u == 0)
        {
            Bit(false);
            Bit(false);
        }
        else if ((u & 0xFFFF_FFFF_FFFF_0000UL) == 0)
        {
            Bit(false);
            Bit(true);
            _data.WriteInt16((short)u);
        }
        else if ((u & 0xFFFF_FFFF_0000_0000UL) == 0)
        {
            Bit(true);
            Bit(false);
            _data.WriteInt32((int)u);
        }
        else
        {
            Bit(true);
            Bit(true);
            _data.WriteInt64(value);
        }
    }

    public override void String(ref string? value)
    {
        Bit(value is not null);
        if (value is null)
        {
            return;
        }
        bool ascii = ModifiedUtf8.IsAscii(value);
        Bit(ascii);
        if (ascii)
        {
            if (value.Length >= short.MaxValue)
            {
                throw new ArgumentException("String too long for tight encoding", nameof(value));
            }
            _data.WriteInt16((short)value.Length);
            var span = _data.GetSpan(value.Length);
            System.Text.Encoding.Latin1.GetBytes(value, span);
            _data.Advance(value.Length);
        }
        else
        {
            if (ModifiedUtf8.GetByteCount(value) >= short.MaxValue)
            {
                throw new ArgumentException("String too long for tight encoding", nameof(value));
            }
            LooseWriter.WriteUtf(_data, value);
        }
    }

    public override void Bytes(ref byte[]? value)
    {
        Bit(value is not null);
        if (value is not null)
        {
            _data.WriteInt32(value.Length);
            if (value.Length >= _splice.Threshold && _splice.Array is null)
            {
                _splice.Array = value;
                _splice.Offset = _data.Length;
                return;
            }
            _data.Write(value);
        }
    }

    internal override void SharedHeader(Message message, SharedHeaderEncoding? shared)
    {
        if (shared is null || _cache is not null)
        {
            message.DescribeHeader(this);
            return;
        }
        if (shared.Find(tight: true, Version) is { } header)
        {
            AppendBits(header.Bits, header.BitCount);
            _data.Write(header.Data);
            return;
        }
        int dataStart = _data.Length;
        int bitStart = _bitCount;
        // The kept bytes must be whole: no array of the header (an XA transaction id) may be left out for splicing.
        var splice = _splice;
        _splice = new BodySplice(int.MaxValue);
        message.DescribeHeader(this);
        _splice = splice;
        shared.Keep(tight: true, new EncodedHeader(Version, _data.WrittenSpan[dataStart..].ToArray(), CopyBits(bitStart, _bitCount - bitStart), _bitCount - bitStart));
    }

    private byte[] CopyBits(int start, int count)
    {
        var bits = new byte[(count + 7) >> 3];
        for (int i = 0; i < count; i++)
        {
            int at = start + i;
            if ((_bits[at >> 3] & (1 << (at & 7))) != 0)
            {
                bits[i >> 3] |= (byte)(1 << (i & 7));
            }
        }
        return bits;
    }

    /// <summary>Appends <paramref name="count"/> bits packed from bit 0 (unused high bits zero), a byte at a time.</summary>
    private void AppendBits(byte[] bits, int count)
    {
        int bytes = (count + 7) >> 3;
        int at = _bitCount >> 3;
        if (at + bytes + 1 > _bits.Length)
        {
            System.Array.Resize(ref _bits, Math.Max(_bits.Length * 2, at + bytes + 1));
        }
        int shift = _bitCount & 7;
        if (shift == 0)
        {
            bits.AsSpan(0, bytes).CopyTo(_bits.AsSpan(at));
        }
        else
        {
            // The current byte holds `shift` bits (higher bits zero, see Bit); bytes after it are stale.
            for (int i = 0; i < bytes; i++)
            {
                _bits[at + i] |= (byte)(bits[i] << shift);
                _bits[at + i + 1] = (byte)(bits[i] >> (8 - shift));
            }
        }
        _bitCount += count;
    }

    protected override DataStructure? VisitNested(DataStructure? value)
    {
        WriteNested(value);
        return value;
    }

    private void WriteNested(DataStructure? value)
    {
        Bit(value is not null);
        if (value is null)
        {
            return;
        }
        if (value.IsMarshallAware)
        {
            Bit(false);
        }
        _data.WriteByte(value.DataType);
        value.Describe(this);
    }

    protected override DataStructure? VisitCached(DataStructure? value)
    {
        if (_cache is not null)
        {
            if (_cache.TryGetWriteIndex(value, out short index, out var key))
            {
                Bit(false);
                _data.WriteInt16(index);
                return value;
            }
            Bit(true);
            // The index goes first on the wire but is taken after the value's own cached fields took theirs, as
            // ActiveMQ's tight writers do (their first pass sizes the nested value, then adds it): the same bytes.
            int at = _data.Length;
            _data.WriteInt16(0);
            WriteNested(value);
            index = _cache.Claim();
            _cache.Bind(index, key);
            BinaryPrimitives.WriteInt16BigEndian(_data.WrittenSpanMutable[at..], index);
            return value;
        }
        WriteNested(value);
        return value;
    }

    protected override int VisitArrayLength(int length)
    {
        Bit(length >= 0);
        if (length >= 0)
        {
            _data.WriteInt16(checked((short)length));
        }
        return length;
    }

    public override void Throwable(ref BrokerError? value)
    {
        Bit(value is not null);
        if (value is null)
        {
            return;
        }
        string? cls = value.ExceptionClass, msg = value.Message;
        String(ref cls);
        String(ref msg);
        if (_stackTraces)
        {
            _data.WriteInt16((short)value.StackTrace.Count);
            foreach (var frame in value.StackTrace)
            {
                string? c = frame.DeclaringClass, m = frame.MethodName, f = frame.FileName;
                String(ref c);
                String(ref m);
                String(ref f);
                _data.WriteInt32(frame.LineNumber);
            }
            var cause = value.Cause;
            Throwable(ref cause);
        }
    }
}
