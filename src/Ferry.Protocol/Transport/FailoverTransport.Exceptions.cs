using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Protocol.Transport;

/// <summary>
/// A send or request of a failover transport waited longer than its <c>timeout</c> option for a
/// connection to a broker. For a request that had already been sent before the link was lost, the
/// broker may or may not have acted on it.
/// </summary>
public sealed class FailoverTimeoutException : TimeoutException
{
    public FailoverTimeoutException() { }

    public FailoverTimeoutException(string message) : base(message) { }

    public FailoverTimeoutException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The transaction was open when the failover transport lost its link, so the broker rolled it
/// back with that connection; its commit (or a transacted sync send) fails with this. The client
/// should roll the transaction back (the transport answers that rollback itself) and redo the work.
/// It is what a JMS client reports as <c>javax.jms.TransactionRolledBackException</c>.
/// </summary>
public sealed class TransactionRolledBackException : Exception
{
    public TransactionRolledBackException() { }

    public TransactionRolledBackException(string message) : base(message) { }

    public TransactionRolledBackException(string message, Exception inner) : base(message, inner) { }

    public TransactionRolledBackException(TransactionId transactionId, bool inDoubt)
        : base(inDoubt
            ? $"Transaction {transactionId} completion in doubt due to failover: the link was lost while the commit was in flight, so the broker may or may not have committed it"
            : $"Transaction {transactionId} rolled back due to failover: it was open when the connection to the broker was lost")
    {
        TransactionId = transactionId;
        InDoubt = inDoubt;
    }

    /// <summary>The transaction concerned, when known.</summary>
    public TransactionId? TransactionId { get; }

    /// <summary>True when the commit itself was in flight as the link dropped: the outcome is unknown.</summary>
    public bool InDoubt { get; }
}
