namespace Ferry.Protocol.Stomp;

/// <summary>Header names the broker reads or writes.</summary>
public static class StompHeaders
{
    public const string AcceptVersion = "accept-version";
    public const string Ack = "ack";
    public const string Browser = "browser";
    public const string ClientId = "client-id";
    public const string ContentLength = "content-length";
    public const string ContentType = "content-type";
    public const string CorrelationId = "correlation-id";
    public const string Destination = "destination";
    public const string Expires = "expires";
    public const string HeartBeat = "heart-beat";
    public const string Host = "host";
    public const string Id = "id";
    public const string Login = "login";
    public const string Message = "message";
    public const string MessageId = "message-id";
    public const string MessageType = "amq-msg-type";
    public const string OriginalDestination = "original-destination";
    public const string Passcode = "passcode";
    public const string Persistent = "persistent";
    public const string Priority = "priority";
    public const string Receipt = "receipt";
    public const string ReceiptId = "receipt-id";
    public const string Redelivered = "redelivered";
    public const string ReplyTo = "reply-to";
    public const string RequestId = "request-id";
    public const string ResponseId = "response-id";
    public const string Selector = "selector";
    public const string Server = "server";
    public const string Session = "session";
    public const string Subscription = "subscription";
    public const string SubscriptionName = "activemq.subscriptionName";
    /// <summary>The misspelt name older ActiveMQ clients send; ActiveMQ still reads it.</summary>
    public const string SubscriptionNameMisspelt = "activemq.subcriptionName";
    public const string Timestamp = "timestamp";
    public const string Transaction = "transaction";
    public const string Type = "type";
    public const string UserId = "JMSXUserID";
    public const string Version = "version";
}
