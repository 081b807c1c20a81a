namespace Ferry.Protocol.OpenWire;

/// <summary>
/// Any OpenWire object. Each type lists its fields once, in wire order, in <see cref="Describe"/>;
/// every encoding (loose, tight, sizing) is a <see cref="FieldVisitor"/> that walks that list.
/// </summary>
public abstract class DataStructure
{
    public abstract byte DataType { get; }

    /// <summary>Visits the fields in wire order. Version-dependent fields check <see cref="FieldVisitor.Version"/>.</summary>
    public abstract void Describe(FieldVisitor v);

    /// <summary>Message types and WireFormatInfo carry an extra "pre-marshalled" bit when nested in tight encoding.</summary>
    public virtual bool IsMarshallAware => false;

    public DataStructure ShallowCopy() => (DataStructure)MemberwiseClone();
}

/// <summary>A data structure that travels as a top-level command: commandId and responseRequired come first.</summary>
public abstract class Command : DataStructure
{
    public int CommandId;
    public bool ResponseRequired;

    public sealed override void Describe(FieldVisitor v)
    {
        v.Int(ref CommandId);
        v.Bool(ref ResponseRequired);
        DescribeBody(v);
    }

    protected abstract void DescribeBody(FieldVisitor v);
}

/// <summary>
/// Walks the fields of a data structure. Readers fill the refs; writers read them.
/// </summary>
public abstract class FieldVisitor
{
    /// <summary>The negotiated OpenWire version whose field lists apply.</summary>
    public int Version { get; set; } = OpenWireFormat.CurrentVersion;

    /// <summary>True when the visitor fills fields (decoding), false when it only reads them.</summary>
    public virtual bool IsReader => false;

    public abstract void Bool(ref bool value);
    public abstract void Byte(ref byte value);
    public abstract void SByte(ref sbyte value);
    public abstract void Short(ref short value);
    public abstract void Int(ref int value);
    public abstract void Long(ref long value);
    public abstract void String(ref string? value);
    public abstract void Bytes(ref byte[]? value);
    /// <summary>A polymorphic object written with its type byte.</summary>
    public abstract void Nested<T>(ref T? value) where T : DataStructure;
    /// <summary>Like <see cref="Nested{T}"/>, but eligible for the marshal cache when it is negotiated.</summary>
    public abstract void Cached<T>(ref T? value) where T : DataStructure;
    public abstract void Array<T>(ref T?[]? value) where T : DataStructure;
    public abstract void Throwable(ref BrokerError? value);
    /// <summary>The 8 raw magic bytes of WireFormatInfo.</summary>
    public abstract void Magic(ref byte[]? value);

    /// <summary>
    /// The header fields of <paramref name="message"/> that every dispatch shares. Writers copy them
    /// from <paramref name="shared"/> when it holds this encoding, or encode them and keep a copy there.
    /// </summary>
    internal virtual void SharedHeader(Commands.Message message, SharedHeaderEncoding? shared) => message.DescribeHeader(this);
}
