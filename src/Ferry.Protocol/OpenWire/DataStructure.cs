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

    protected FieldVisitor(bool isReader) => IsReader = isReader;

    /// <summary>True when the visitor fills fields (decoding), false when it only reads them.</summary>
    public bool IsReader { get; }

    public abstract void Bool(ref bool value);
    public abstract void Byte(ref byte value);
    public abstract void SByte(ref sbyte value);
    public abstract void Short(ref short value);
    public abstract void Int(ref int value);
    public abstract void Long(ref long value);
    public abstract void String(ref string? value);
    public abstract void Bytes(ref byte[]? value);
    // Nested, Cached and Array are generic for the callers' sake but not virtual: a generic virtual call
    // costs a runtime lookup each time (about ten of them per message), a plain virtual call does not.

    /// <summary>A polymorphic object written with its type byte.</summary>
    public void Nested<T>(ref T? value) where T : DataStructure
    {
        var visited = VisitNested(value);
        if (IsReader)
        {
            value = visited is null ? null : Marshalling.DataStructureFactory.Cast<T>(visited);
        }
    }

    /// <summary>Like <see cref="Nested{T}"/>, but eligible for the marshal cache when it is negotiated.</summary>
    public void Cached<T>(ref T? value) where T : DataStructure
    {
        var visited = VisitCached(value);
        if (IsReader)
        {
            value = visited is null ? null : Marshalling.DataStructureFactory.Cast<T>(visited);
        }
    }

    public void Array<T>(ref T?[]? value) where T : DataStructure
    {
        int length = VisitArrayLength(value?.Length ?? -1);
        if (!IsReader)
        {
            foreach (var item in value ?? [])
            {
                VisitNested(item);
            }
            return;
        }
        if (length < 0)
        {
            value = null;
            return;
        }
        var array = new T?[length];
        for (int i = 0; i < length; i++)
        {
            var item = VisitNested(null);
            array[i] = item is null ? null : Marshalling.DataStructureFactory.Cast<T>(item);
        }
        value = array;
    }

    /// <summary>Writes <paramref name="value"/> (returned) or reads and returns one.</summary>
    protected abstract DataStructure? VisitNested(DataStructure? value);

    /// <summary>As <see cref="VisitNested"/>, through the marshal cache when it is negotiated.</summary>
    protected abstract DataStructure? VisitCached(DataStructure? value);

    /// <summary>An array's length, -1 for null: writers write <paramref name="length"/>, readers read one (checked against the frame).</summary>
    protected abstract int VisitArrayLength(int length);
    public abstract void Throwable(ref BrokerError? value);
    /// <summary>The 8 raw magic bytes of WireFormatInfo.</summary>
    public abstract void Magic(ref byte[]? value);

    /// <summary>
    /// The header fields of <paramref name="message"/> that every dispatch shares. Writers copy them
    /// from <paramref name="shared"/> when it holds this encoding, or encode them and keep a copy there.
    /// </summary>
    internal virtual void SharedHeader(Commands.Message message, SharedHeaderEncoding? shared) => message.DescribeHeader(this);
}
