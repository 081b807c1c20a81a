namespace Ferry.Protocol.OpenWire.Commands;

public enum DestinationKind : byte
{
    Queue = DataTypes.Queue,
    Topic = DataTypes.Topic,
    TempQueue = DataTypes.TempQueue,
    TempTopic = DataTypes.TempTopic,
}

/// <summary>ActiveMQDestination: a queue, topic or temporary one, named by its physical name.</summary>
public sealed class Destination : DataStructure, IEquatable<Destination>
{
    public string? PhysicalName;
    public DestinationKind Kind { get; private set; }

    public Destination() : this(DestinationKind.Queue, "") { }

    public Destination(DestinationKind kind, string physicalName)
    {
        Kind = kind;
        PhysicalName = physicalName;
    }

    public static Destination Queue(string name) => new(DestinationKind.Queue, name);
    public static Destination Topic(string name) => new(DestinationKind.Topic, name);

    /// <summary>Used by the decoder, which learns the kind from the type byte.</summary>
    internal static Destination OfType(byte dataType) => new((DestinationKind)dataType, "");

    public override byte DataType => (byte)Kind;
    public override void Describe(FieldVisitor v) => v.String(ref PhysicalName);

    public string Name => PhysicalName ?? "";
    public bool IsTopic => Kind is DestinationKind.Topic or DestinationKind.TempTopic;
    public bool IsQueue => !IsTopic;
    public bool IsTemporary => Kind is DestinationKind.TempQueue or DestinationKind.TempTopic;
    public bool IsComposite => Name.Contains(',', StringComparison.Ordinal);
    public bool IsWildcard => Name.Contains('*', StringComparison.Ordinal) || Name.Contains('>', StringComparison.Ordinal);

    /// <summary>The parts of a composite destination (comma-separated names), each of the same kind.</summary>
    public IEnumerable<Destination> CompositeParts()
    {
        foreach (var part in Name.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            yield return new Destination(Kind, part);
        }
    }

    public string QualifiedName => Kind switch
    {
        DestinationKind.Queue => "queue://",
        DestinationKind.Topic => "topic://",
        DestinationKind.TempQueue => "temp-queue://",
        _ => "temp-topic://",
    } + Name;

    public bool Equals(Destination? other) => other is not null && Kind == other.Kind && Name == other.Name;
    public override bool Equals(object? obj) => Equals(obj as Destination);
    public override int GetHashCode() => HashCode.Combine(Kind, Name);
    public override string ToString() => QualifiedName;
}
