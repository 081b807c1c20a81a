namespace Ferry.Client;

/// <summary>How a session acknowledges the messages its consumers deliver (JMS acknowledgement modes).</summary>
public enum AcknowledgeMode
{
    /// <summary>Each message is acknowledged as soon as it is delivered (receive returns, or the listener returns).</summary>
    Auto,

    /// <summary>The application calls <see cref="Message.AcknowledgeAsync"/>, which acknowledges every message the session delivered so far.</summary>
    Client,

    /// <summary>Acknowledgements are sent lazily in batches; after a failure a message may be delivered again.</summary>
    DupsOk,

    /// <summary>The application calls <see cref="Message.AcknowledgeAsync"/>, which acknowledges that one message only.</summary>
    Individual,

    /// <summary>Sends and acknowledgements belong to a local transaction ended by <see cref="Session.CommitAsync"/> or <see cref="Session.RollbackAsync"/>.</summary>
    Transacted,
}

/// <summary>Whether the broker must keep a message across a restart.</summary>
public enum DeliveryMode
{
    /// <summary>The message may be lost if the broker stops (JMS NON_PERSISTENT, 1).</summary>
    NonPersistent = 1,

    /// <summary>The broker stores the message before accepting it (JMS PERSISTENT, 2).</summary>
    Persistent = 2,
}
