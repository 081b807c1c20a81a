namespace Ferry.Protocol;

/// <summary>Input that breaks the protocol: the connection that sent it is closed, nobody else is affected.</summary>
public sealed class ProtocolException : Exception
{
    public ProtocolException(string message) : base(message) { }

    public ProtocolException(string message, Exception inner) : base(message, inner) { }

    public ProtocolException() { }
}
