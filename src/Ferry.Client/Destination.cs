using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>
/// Where messages go: a <see cref="Queue"/> (each message to one consumer), a <see cref="Topic"/>
/// (each message to every subscriber), or their temporary forms, which live as long as the
/// connection that created them. Destinations compare equal by kind and name.
/// </summary>
public abstract class Destination : IEquatable<Destination>
{
    private protected Destination(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <summary>The physical name, as the broker knows it (for example <c>orders.incoming</c>).</summary>
    public string Name { get; }

    /// <summary>True for topics and temporary topics.</summary>
    public bool IsTopic => this is Topic or TemporaryTopic;

    /// <summary>True for temporary queues and topics.</summary>
    public bool IsTemporary => this is TemporaryQueue or TemporaryTopic;

    private protected abstract Wire.DestinationKind Kind { get; }

    internal Wire.Destination ToWire() => new(Kind, Name);

    /// <summary>Whether <paramref name="wire"/> names this destination.</summary>
    internal bool Is(Wire.Destination? wire) => wire is not null && wire.Kind == Kind && string.Equals(wire.Name, Name, StringComparison.Ordinal);

    internal static Destination? FromWire(Wire.Destination? destination) => destination?.Kind switch
    {
        null => null,
        Wire.DestinationKind.Queue => new Queue(destination.Name),
        Wire.DestinationKind.Topic => new Topic(destination.Name),
        Wire.DestinationKind.TempQueue => new TemporaryQueue(destination.Name, null),
        _ => new TemporaryTopic(destination.Name, null),
    };

    /// <inheritdoc />
    public bool Equals(Destination? other) => other is not null && other.Kind == Kind && other.Name == Name;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Destination);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Name);

    /// <summary>The qualified form: <c>queue://name</c>, <c>topic://name</c>, <c>temp-queue://name</c> or <c>temp-topic://name</c>.</summary>
    public override string ToString() => ToWire().QualifiedName;
}

/// <summary>A queue: each message is delivered to one of its consumers.</summary>
public sealed class Queue : Destination
{
    /// <summary>Names a queue.</summary>
    public Queue(string name) : base(name) { }

    private protected override Wire.DestinationKind Kind => Wire.DestinationKind.Queue;
}

/// <summary>A topic: each message is delivered to every subscriber.</summary>
public sealed class Topic : Destination
{
    /// <summary>Names a topic.</summary>
    public Topic(string name) : base(name) { }

    private protected override Wire.DestinationKind Kind => Wire.DestinationKind.Topic;
}

/// <summary>A queue that lives as long as the connection that created it (see <see cref="Session.CreateTemporaryQueueAsync"/>).</summary>
public sealed class TemporaryQueue : Destination
{
    private readonly Connection? _owner;

    internal TemporaryQueue(string name, Connection? owner) : base(name) => _owner = owner;

    private protected override Wire.DestinationKind Kind => Wire.DestinationKind.TempQueue;

    /// <summary>Deletes the queue on the broker. Only the connection that created it may delete it.</summary>
    public Task DeleteAsync(CancellationToken cancellationToken = default) =>
        (_owner ?? throw new InvalidOperationException("Only the connection that created a temporary destination can delete it"))
            .DeleteTemporaryDestinationAsync(this, cancellationToken);
}

/// <summary>A topic that lives as long as the connection that created it (see <see cref="Session.CreateTemporaryTopicAsync"/>).</summary>
public sealed class TemporaryTopic : Destination
{
    private readonly Connection? _owner;

    internal TemporaryTopic(string name, Connection? owner) : base(name) => _owner = owner;

    private protected override Wire.DestinationKind Kind => Wire.DestinationKind.TempTopic;

    /// <summary>Deletes the topic on the broker. Only the connection that created it may delete it.</summary>
    public Task DeleteAsync(CancellationToken cancellationToken = default) =>
        (_owner ?? throw new InvalidOperationException("Only the connection that created a temporary destination can delete it"))
            .DeleteTemporaryDestinationAsync(this, cancellationToken);
}
