using Ferry.Protocol.OpenWire;

namespace Ferry.Broker;

/// <summary>
/// A request the broker refuses. It reaches the client as an ExceptionResponse (or a ConnectionError
/// for commands that wanted no response) carrying <see cref="JavaClass"/>, which the Java client
/// turns back into the matching JMS exception.
/// </summary>
public sealed class BrokerException : Exception
{
    public BrokerException(string javaClass, string message) : base(message) => JavaClass = javaClass;

    public BrokerException() : this(JmsErrors.JmsException, "broker error") { }

    public BrokerException(string message) : this(JmsErrors.JmsException, message) { }

    public BrokerException(string message, Exception inner) : base(message, inner) => JavaClass = JmsErrors.JmsException;

    public string JavaClass { get; }

    public BrokerError ToBrokerError() => new(JavaClass, Message);
}
