using System.Buffers;
using System.Buffers.Binary;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Protocol.OpenWire;

/// <summary>
/// One connection's OpenWire codec: framing, and loose or tight marshalling under the settings
/// negotiated by the WireFormatInfo exchange. Not thread-safe: one reader and one writer loop use it,
/// the decoding and encoding halves share nothing but the settings.
/// </summary>
public sealed class OpenWireFormat : IDisposable
{
    public const int CurrentVersion = 12;

    private readonly LooseReader _looseReader = new();
    private readonly LooseWriter _looseWriter = new();
    private readonly TightReader _tightReader = new();
    private readonly TightWriter _tightWriter = new();
    private readonly FrameBuffer _frame = new();
    private readonly FrameBuffer _tightData = new();
    private MarshalCache? _readCache;
    private MarshalCache? _writeCache;

    public OpenWireFormat(long maxFrameSize) => Settings = NegotiatedWireFormat.Initial(maxFrameSize);

    public NegotiatedWireFormat Settings { get; private set; }

    /// <summary>Switches to negotiated settings; from now on both directions use them.</summary>
    public void Apply(NegotiatedWireFormat settings)
    {
        if (settings.SizePrefixDisabled)
        {
            throw new ProtocolException("SizePrefixDisabled framing is not supported");
        }
        Settings = settings;
        _readCache = settings.CacheEnabled ? new MarshalCache(settings.CacheSize) : null;
        _writeCache = settings.CacheEnabled ? new MarshalCache(settings.CacheSize) : null;
    }

    /// <summary>
    /// Takes one frame off the front of <paramref name="buffer"/> if it is complete. The announced size
    /// is checked against the maximum before anything is allocated. A null command is a NULL frame.
    /// </summary>
    public bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out DataStructure? command)
    {
        command = null;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        int size = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (size < 1)
        {
            throw new ProtocolException($"Invalid frame size {size}");
        }
        if (size > Settings.MaxFrameSize)
        {
            throw new ProtocolException($"Frame size of {size} bytes exceeds the maximum of {Settings.MaxFrameSize}");
        }
        if (buffer.Length - 4 < size)
        {
            return false;
        }
        var frame = buffer.Slice(4, size);
        if (frame.IsSingleSegment)
        {
            command = Decode(frame.First);
        }
        else
        {
            byte[] rented = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                frame.CopyTo(rented);
                command = Decode(rented.AsMemory(0, size));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
        buffer = buffer.Slice(4 + size);
        return true;
    }

    /// <summary>Decodes a frame body (type byte first). Decoded objects never reference <paramref name="frame"/>.</summary>
    public DataStructure? Decode(ReadOnlyMemory<byte> frame)
    {
        byte type = frame.Span[0];
        if (type == DataTypes.Null)
        {
            return null;
        }
        var s = Settings;
        if (s.TightEncoding)
        {
            _tightReader.Reset(frame[1..], s.Version, _readCache, s.StackTraceEnabled);
            return _tightReader.ReadObject(type, nested: false);
        }
        _looseReader.Reset(frame[1..], s.Version, _readCache, s.StackTraceEnabled);
        return _looseReader.ReadObject(type);
    }

    /// <summary>
    /// Byte arrays at least this long (a message body) are not copied into the frame buffer by
    /// <see cref="Write"/>: the output gets the bytes before, the array itself, and the bytes after.
    /// </summary>
    public int SpliceThreshold { get; set; } = 2048;

    /// <summary>
    /// Appends one size-prefixed frame for <paramref name="command"/> to <paramref name="output"/>.
    /// A large body goes from the message's array straight to the output, not through the frame buffer.
    /// </summary>
    public void Write(DataStructure command, IBufferWriter<byte> output)
    {
        var splice = EncodeFrame(command, SpliceThreshold);
        var frame = _frame.WrittenSpan;
        if (splice.Array is not { } body)
        {
            output.Write(frame);
            return;
        }
        output.Write(frame[..splice.Offset]);
        output.Write(body);
        output.Write(frame[splice.Offset..]);
    }

    /// <summary>Encodes into the codec's reusable buffer; the span is valid until the next call.</summary>
    public ReadOnlySpan<byte> Encode(DataStructure command)
    {
        EncodeFrame(command, spliceThreshold: int.MaxValue);
        return _frame.WrittenSpan;
    }

    /// <summary>Encodes into the frame buffer, leaving out the first byte array of at least <paramref name="spliceThreshold"/> bytes.</summary>
    private BodySplice EncodeFrame(DataStructure command, int spliceThreshold)
    {
        var s = Settings;
        BodySplice splice;
        _frame.Reset();
        _frame.WriteInt32(0);
        _frame.WriteByte(command.DataType);
        if (s.TightEncoding)
        {
            _tightData.Reset();
            _tightWriter.Reset(_tightData, s.Version, _writeCache, s.StackTraceEnabled, spliceThreshold);
            command.Describe(_tightWriter);
            _tightWriter.WriteBooleanStream(_frame);
            splice = _tightWriter.TakeSplice(dataStartsAt: _frame.Length);
            _frame.Write(_tightData.WrittenSpan);
        }
        else
        {
            _looseWriter.Reset(_frame, s.Version, _writeCache, s.StackTraceEnabled, spliceThreshold);
            command.Describe(_looseWriter);
            splice = _looseWriter.TakeSplice();
        }
        int size = _frame.Length - 4 + (splice.Array?.Length ?? 0);
        BinaryPrimitives.WriteInt32BigEndian(_frame.WrittenSpanMutable, size);
        return splice;
    }

    public void Dispose()
    {
        _frame.Dispose();
        _tightData.Dispose();
    }
}

/// <summary>
/// One byte array left out of an encoded frame, to be written between its bytes at <see cref="Offset"/>
/// (the frame's length prefix already counts it). At most one per frame: the first array that is long enough.
/// </summary>
internal struct BodySplice(int threshold)
{
    public readonly int Threshold = threshold;
    public byte[]? Array;
    public int Offset;
}
