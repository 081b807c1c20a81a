using Ferry.Protocol.OpenWire;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>The broker refused a request, or the connection failed.</summary>
public sealed class MessagingException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public MessagingException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public MessagingException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception for an error the broker reported.</summary>
    public MessagingException(string message, string? brokerExceptionClass) : base(message) => BrokerExceptionClass = brokerExceptionClass;

    /// <summary>Creates an exception with no details.</summary>
    public MessagingException() { }

    /// <summary>The Java exception class the broker named, e.g. <c>javax.jms.InvalidClientIDException</c>; null if the error is local.</summary>
    public string? BrokerExceptionClass { get; }

    internal static MessagingException FromBroker(BrokerError? error, string what) =>
        new($"{what}: {error?.Message ?? "the broker refused the request"}{(error?.ExceptionClass is { } c ? $" ({c})" : "")}", error?.ExceptionClass);

    internal static Wire.Response EnsureOk(Wire.Response response, string what) =>
        response is Wire.ExceptionResponse error ? throw FromBroker(error.Exception, what) : response;
}

/// <summary>An asynchronous error on a connection (<see cref="Connection.ExceptionThrown"/>).</summary>
public sealed class ConnectionExceptionEventArgs(MessagingException exception) : EventArgs
{
    /// <summary>What went wrong.</summary>
    public MessagingException Exception { get; } = exception;
}

/// <summary>The transport lost or regained its broker (<see cref="Connection.Interrupted"/>, <see cref="Connection.Resumed"/>).</summary>
public sealed class ConnectionStateEventArgs(string address, string? reason) : EventArgs
{
    /// <summary>The broker address concerned.</summary>
    public string Address { get; } = address;

    /// <summary>Why, if known.</summary>
    public string? Reason { get; } = reason;
}
