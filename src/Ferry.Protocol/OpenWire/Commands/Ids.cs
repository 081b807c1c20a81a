namespace Ferry.Protocol.OpenWire.Commands;

// Ids are compared by value: the broker keys its connection, session, producer and consumer
// state by them, and acks name messages by MessageId.

public sealed class ConnectionId : DataStructure, IEquatable<ConnectionId>
{
    public string? Value;

    public ConnectionId() { }
    public ConnectionId(string value) => Value = value;

    public override byte DataType => DataTypes.ConnectionId;
    public override void Describe(FieldVisitor v) => v.String(ref Value);

    public bool Equals(ConnectionId? other) => other is not null && Value == other.Value;
    public override bool Equals(object? obj) => Equals(obj as ConnectionId);
    public override int GetHashCode() => Value?.GetHashCode(StringComparison.Ordinal) ?? 0;
    public override string ToString() => Value ?? "";
}

public sealed class SessionId : DataStructure, IEquatable<SessionId>
{
    public string? ConnectionId;
    public long Value;

    public SessionId() { }
    public SessionId(string connectionId, long value) => (ConnectionId, Value) = (connectionId, value);

    public override byte DataType => DataTypes.SessionId;
    public override void Describe(FieldVisitor v)
    {
        v.String(ref ConnectionId);
        v.Long(ref Value);
    }

    public bool Equals(SessionId? other) => other is not null && Value == other.Value && ConnectionId == other.ConnectionId;
    public override bool Equals(object? obj) => Equals(obj as SessionId);
    public override int GetHashCode() => HashCode.Combine(ConnectionId, Value);
    public override string ToString() => $"{ConnectionId}:{Value}";
}

public sealed class ConsumerId : DataStructure, IEquatable<ConsumerId>
{
    public string? ConnectionId;
    public long SessionId;
    public long Value;

    public ConsumerId() { }
    public ConsumerId(string connectionId, long sessionId, long value) => (ConnectionId, SessionId, Value) = (connectionId, sessionId, value);

    public override byte DataType => DataTypes.ConsumerId;
    public override void Describe(FieldVisitor v)
    {
        v.String(ref ConnectionId);
        v.Long(ref SessionId);
        v.Long(ref Value);
    }

    public SessionId ParentId => new(ConnectionId ?? "", SessionId);

    public bool Equals(ConsumerId? other) => other is not null && Value == other.Value && SessionId == other.SessionId && ConnectionId == other.ConnectionId;
    public override bool Equals(object? obj) => Equals(obj as ConsumerId);
    public override int GetHashCode() => HashCode.Combine(ConnectionId, SessionId, Value);
    public override string ToString() => $"{ConnectionId}:{SessionId}:{Value}";
}

public sealed class ProducerId : DataStructure, IEquatable<ProducerId>
{
    public string? ConnectionId;
    public long Value;
    public long SessionId;

    public ProducerId() { }
    public ProducerId(string connectionId, long sessionId, long value) => (ConnectionId, SessionId, Value) = (connectionId, sessionId, value);

    public override byte DataType => DataTypes.ProducerId;
    public override void Describe(FieldVisitor v)
    {
        // On the wire the producer value precedes the session id (unlike ConsumerId).
        v.String(ref ConnectionId);
        v.Long(ref Value);
        v.Long(ref SessionId);
    }

    public SessionId ParentId => new(ConnectionId ?? "", SessionId);

    public bool Equals(ProducerId? other) => other is not null && Value == other.Value && SessionId == other.SessionId && ConnectionId == other.ConnectionId;
    public override bool Equals(object? obj) => Equals(obj as ProducerId);
    public override int GetHashCode() => HashCode.Combine(ConnectionId, SessionId, Value);
    public override string ToString() => $"{ConnectionId}:{SessionId}:{Value}";
}

public sealed class BrokerId : DataStructure, IEquatable<BrokerId>
{
    public string? Value;

    public BrokerId() { }
    public BrokerId(string value) => Value = value;

    public override byte DataType => DataTypes.BrokerId;
    public override void Describe(FieldVisitor v) => v.String(ref Value);

    public bool Equals(BrokerId? other) => other is not null && Value == other.Value;
    public override bool Equals(object? obj) => Equals(obj as BrokerId);
    public override int GetHashCode() => Value?.GetHashCode(StringComparison.Ordinal) ?? 0;
    public override string ToString() => Value ?? "";
}

public sealed class MessageId : DataStructure, IEquatable<MessageId>
{
    public string? TextView;
    public ProducerId? ProducerId;
    public long ProducerSequenceId;
    public long BrokerSequenceId;

    public MessageId() { }
    public MessageId(ProducerId producerId, long producerSequenceId) => (ProducerId, ProducerSequenceId) = (producerId, producerSequenceId);

    public override byte DataType => DataTypes.MessageId;
    public override void Describe(FieldVisitor v)
    {
        if (v.Version >= 10)
        {
            v.String(ref TextView);
        }
        v.Cached(ref ProducerId);
        v.Long(ref ProducerSequenceId);
        v.Long(ref BrokerSequenceId);
    }

    // Equality ignores brokerSequenceId, as ActiveMQ does: acks name the producer's id.
    public bool Equals(MessageId? other) => other is not null
        && (TextView is not null || other.TextView is not null
            ? ToString() == other.ToString()
            : ProducerSequenceId == other.ProducerSequenceId && Equals(ProducerId, other.ProducerId));
    public override bool Equals(object? obj) => Equals(obj as MessageId);
    public override int GetHashCode() => TextView is not null ? ToString().GetHashCode(StringComparison.Ordinal) : HashCode.Combine(ProducerId, ProducerSequenceId);

    public override string ToString() => TextView is { } t
        ? (t.StartsWith("ID:", StringComparison.Ordinal) ? t : "ID:" + t)
        : $"{ProducerId}:{ProducerSequenceId}";
}

public abstract class TransactionId : DataStructure
{
    public abstract bool IsXa { get; }
}

public sealed class LocalTransactionId : TransactionId, IEquatable<LocalTransactionId>
{
    public long Value;
    public ConnectionId? ConnectionId;

    public LocalTransactionId() { }
    public LocalTransactionId(ConnectionId connectionId, long value) => (ConnectionId, Value) = (connectionId, value);

    public override byte DataType => DataTypes.LocalTransactionId;
    public override bool IsXa => false;
    public override void Describe(FieldVisitor v)
    {
        v.Long(ref Value);
        v.Cached(ref ConnectionId);
    }

    public bool Equals(LocalTransactionId? other) => other is not null && Value == other.Value && Equals(ConnectionId, other.ConnectionId);
    public override bool Equals(object? obj) => Equals(obj as LocalTransactionId);
    public override int GetHashCode() => HashCode.Combine(ConnectionId, Value);
    public override string ToString() => $"TX:{ConnectionId}:{Value}";
}

public sealed class XATransactionId : TransactionId, IEquatable<XATransactionId>
{
    public int FormatId;
    public byte[]? GlobalTransactionId;
    public byte[]? BranchQualifier;

    public override byte DataType => DataTypes.XATransactionId;
    public override bool IsXa => true;
    public override void Describe(FieldVisitor v)
    {
        v.Int(ref FormatId);
        v.Bytes(ref GlobalTransactionId);
        v.Bytes(ref BranchQualifier);
    }

    public bool Equals(XATransactionId? other) => other is not null && FormatId == other.FormatId
        && GlobalTransactionId.AsSpan().SequenceEqual(other.GlobalTransactionId) && BranchQualifier.AsSpan().SequenceEqual(other.BranchQualifier);
    public override bool Equals(object? obj) => Equals(obj as XATransactionId);
    public override int GetHashCode() => HashCode.Combine(FormatId, Convert.ToHexString(GlobalTransactionId ?? []), Convert.ToHexString(BranchQualifier ?? []));
    public override string ToString() => $"XID:[{FormatId},globalId={Convert.ToHexString(GlobalTransactionId ?? [])},branchId={Convert.ToHexString(BranchQualifier ?? [])}]";
}
