namespace Ferry.Protocol.OpenWire;

/// <summary>A Java throwable as OpenWire carries it (class name, message, optional frames and cause).</summary>
public sealed class BrokerError
{
    public string? ExceptionClass { get; set; }
    public string? Message { get; set; }
    public IReadOnlyList<StackTraceFrame> StackTrace { get; set; } = [];
    public BrokerError? Cause { get; set; }

    public BrokerError() { }

    public BrokerError(string exceptionClass, string? message)
    {
        ExceptionClass = exceptionClass;
        Message = message;
    }

    public override string ToString() => $"{ExceptionClass}: {Message}";
}

public sealed record StackTraceFrame(string? DeclaringClass, string? MethodName, string? FileName, int LineNumber);

/// <summary>Java exception class names the Java client maps back to JMS exceptions.</summary>
public static class JmsErrors
{
    public const string JmsException = "javax.jms.JMSException";
    public const string InvalidClientId = "javax.jms.InvalidClientIDException";
    public const string InvalidDestination = "javax.jms.InvalidDestinationException";
    public const string InvalidSelector = "javax.jms.InvalidSelectorException";
    public const string Security = "javax.jms.JMSSecurityException";
    public const string ResourceAllocation = "javax.jms.ResourceAllocationException";
    public const string TransactionRolledBack = "javax.jms.TransactionRolledBackException";
    public const string IllegalState = "javax.jms.IllegalStateException";
}
