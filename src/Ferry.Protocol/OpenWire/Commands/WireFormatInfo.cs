using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Protocol.OpenWire.Commands;

/// <summary>The first frame each side sends: magic, version and the encoding options it prefers.</summary>
public sealed class WireFormatInfo : DataStructure
{
    public static ReadOnlySpan<byte> MagicBytes => "ActiveMQ"u8;

    public byte[]? Magic;
    public int Version;
    public byte[]? MarshalledProperties;

    public override byte DataType => DataTypes.WireFormatInfo;
    public override bool IsMarshallAware => true;

    public override void Describe(FieldVisitor v)
    {
        v.Magic(ref Magic);
        v.Int(ref Version);
        v.Bytes(ref MarshalledProperties);
    }

    public bool HasValidMagic => Magic is not null && MagicBytes.SequenceEqual(Magic);

    public Dictionary<string, object?> Properties
    {
        get => MarshalledProperties is null ? new(StringComparer.Ordinal) : PrimitiveMap.Decode(MarshalledProperties) ?? new(StringComparer.Ordinal);
        set => MarshalledProperties = PrimitiveMap.Encode(value);
    }

    public static WireFormatInfo From(WireFormatOptions options) => new()
    {
        Magic = MagicBytes.ToArray(),
        Version = options.Version,
        Properties = options.ToProperties(),
    };
}
