using Ferry.Protocol.OpenWire;
using Wire = Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Client;

/// <summary>The broker refused a request, or the connection failed.</summary>
public class MessagingException : Exception
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

/// <summary>
/// The transaction was rolled back instead of committed (JMS <c>TransactionRolledBackException</c>). With a
/// <c>failover:</c> URI this is what <see cref="Session.CommitAsync"/> throws when the transaction was open
/// while the connection moved to another broker: the lost broker connection took the transaction with it.
/// The session has already rolled back locally (the messages it received are delivered again, marked
/// redelivered, and its sends were discarded): redo the work in a new transaction.
/// </summary>
public sealed class TransactionRolledBackException : MessagingException
{
    /// <summary>Creates an exception with no details.</summary>
    public TransactionRolledBackException() { }

    /// <summary>Creates an exception with a message.</summary>
    public TransactionRolledBackException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public TransactionRolledBackException(string message, Exception innerException) : base(message, innerException) { }

    internal TransactionRolledBackException(string message, bool inDoubt, Exception innerException) : base(message, innerException) => InDoubt = inDoubt;

    /// <summary>
    /// True when the commit itself was on its way as the connection was lost: the broker may or may not have
    /// committed it (the messages may then be delivered again, or the sends be stored twice).
    /// </summary>
    public bool InDoubt { get; }
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
