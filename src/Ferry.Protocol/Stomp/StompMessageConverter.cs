using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Protocol.Stomp;

/// <summary>
/// STOMP frames to OpenWire messages and back, as ActiveMQ's default (legacy) translator does:
/// a SEND with <c>content-length</c> is a BytesMessage, without it a TextMessage; standard headers
/// map to message fields, every other header to a String property; MESSAGE frames carry the fields
/// as headers and every property as <c>name:String(value)</c>.
/// </summary>
public static class StompMessageConverter
{
    // Headers that are message fields or frame plumbing, never copied into properties.
    private static readonly HashSet<string> NotProperties = new(StringComparer.Ordinal)
    {
        StompHeaders.Destination, StompHeaders.CorrelationId, StompHeaders.Expires, StompHeaders.Priority, StompHeaders.Type,
        StompHeaders.Persistent, StompHeaders.Timestamp, StompHeaders.Transaction, StompHeaders.Receipt,
        StompHeaders.MessageId, StompHeaders.Redelivered, StompHeaders.Subscription, StompHeaders.UserId,
        "JMSType", "JMSCorrelationID", "JMSPriority", "JMSExpiration", "JMSDeliveryMode", "JMSRedelivered",
        "JMSReplyTo", "JMSTimestamp", "JMSXGroupID", "JMSXGroupSeq", "JMSXDeliveryCount", "JMSDestination", "JMSMessageID",
    };

    /// <summary>
    /// The message a SEND frame makes. <paramref name="replyTo"/> is the converted <c>reply-to</c>,
    /// or null when it names no destination (then it stays a String property, as ActiveMQ keeps it).
    /// </summary>
    /// <exception cref="FormatException">A numeric header that is not a number, or an unknown amq-msg-type.</exception>
    public static Message ToMessage(StompFrame frame, Destination destination, Destination? replyTo, MessageId messageId, long now)
    {
        ArgumentNullException.ThrowIfNull(frame);
        string? messageType = frame[StompHeaders.MessageType];
        bool bytes = messageType switch
        {
            null => frame[StompHeaders.ContentLength] is not null,
            "text" => false,
            "bytes" => true,
            _ => throw new FormatException($"Unsupported message type '{messageType}'"),
        };
        var message = new Message(bytes ? DataTypes.BytesMessage : DataTypes.TextMessage)
        {
            Destination = destination,
            MessageId = messageId,
            Timestamp = now,
            Priority = 4,
            ReplyTo = replyTo,
        };
        if (bytes)
        {
            message.Content = frame.Body.ToArray();
        }
        else
        {
            // The body bytes as they are, behind the text length prefix (UTF-8 and modified UTF-8 agree on BMP text).
            var content = new byte[4 + frame.Body.Length];
            BinaryPrimitives.WriteInt32BigEndian(content, frame.Body.Length);
            frame.Body.Span.CopyTo(content.AsSpan(4));
            message.Content = content;
        }
        Dictionary<string, object?>? properties = null; // most frames have none
        var headers = frame.Headers;
        // A handful of headers: a scan of those before beats a set per frame; many (up to the parser's limit): a set.
        var seen = headers.Count > 16 ? new HashSet<string>(StringComparer.Ordinal) : null;
        for (int i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            if (seen is not null ? !seen.Add(name) : SeenBefore(headers, i, name))
            {
                continue; // the first occurrence of a repeated header wins
            }
            switch (name)
            {
                case StompHeaders.CorrelationId: message.CorrelationId = value; continue;
                case StompHeaders.Expires: message.Expiration = ParseLong(name, value); continue;
                case StompHeaders.Priority: message.Priority = (byte)ParseLong(name, value); continue;
                case StompHeaders.Type: message.Type = value; continue;
                case StompHeaders.Persistent: message.Persistent = value == "true"; continue;
                case StompHeaders.Timestamp: message.Timestamp = ParseLong(name, value); continue;
                case StompHeaders.ReplyTo when replyTo is not null: continue;
                case StompHeaders.ContentLength when messageType is null: continue;
            }
            if (!NotProperties.Contains(name))
            {
                (properties ??= new(StringComparer.Ordinal))[name] = value;
            }
        }
        // The JMS header names override the plain ones (ActiveMQ applies them afterwards).
        if (frame["JMSType"] is { } jmsType)
        {
            message.Type = jmsType;
        }
        if (frame["JMSCorrelationID"] is { } jmsCorrelation)
        {
            message.CorrelationId = jmsCorrelation;
        }
        if (frame["JMSPriority"] is { } jmsPriority)
        {
            message.Priority = (byte)ParseLong("JMSPriority", jmsPriority);
        }
        if (frame["JMSExpiration"] is { } jmsExpiration)
        {
            message.Expiration = ParseLong("JMSExpiration", jmsExpiration);
        }
        if (frame["JMSTimestamp"] is { } jmsTimestamp)
        {
            message.Timestamp = ParseLong("JMSTimestamp", jmsTimestamp);
        }
        if (frame["JMSDeliveryMode"] is { } jmsDeliveryMode)
        {
            message.Persistent = jmsDeliveryMode is "2" or "true" or "PERSISTENT";
        }
        if (frame["JMSXGroupID"] is { } group)
        {
            message.GroupId = group;
        }
        if (frame["JMSXGroupSeq"] is { } groupSeq)
        {
            message.GroupSequence = (int)ParseLong("JMSXGroupSeq", groupSeq);
        }
        if (message.Priority > 9)
        {
            message.Priority = 9;
        }
        message.MarshalledProperties = properties is { Count: > 0 } ? PrimitiveMap.Encode(properties) : null;
        return message;

        static bool SeenBefore(IReadOnlyList<KeyValuePair<string, string>> headers, int index, string name)
        {
            for (int j = 0; j < index; j++)
            {
                if (headers[j].Key == name)
                {
                    return true;
                }
            }
            return false;
        }
    }

    private static long ParseLong(string name, string value) =>
        long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new FormatException($"Invalid {name} header: {value}");

    /// <summary>How the converter names destinations for this client (its own temporary ones by their STOMP names).</summary>
    public delegate string DestinationNamer(Destination destination);

    /// <summary>The MESSAGE frame for a dispatched message.</summary>
    public static StompFrame ToFrame(Message message, DestinationNamer name, string? subscriptionId, string? ackId)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(name);
        // A list, not a dictionary: the standard headers are distinct; a property named like one of them
        // replaces it in place (as ActiveMQ's map does), which Set does by a short scan.
        var headers = new List<KeyValuePair<string, string>>(16);
        if (message.Destination is { } destination)
        {
            headers.Add(new(StompHeaders.Destination, name(destination)));
        }
        headers.Add(new(StompHeaders.MessageId, message.MessageId?.ToString() ?? ""));
        if (subscriptionId is not null)
        {
            headers.Add(new(StompHeaders.Subscription, subscriptionId));
        }
        if (ackId is not null)
        {
            headers.Add(new(StompHeaders.Ack, ackId));
        }
        headers.Add(new(StompHeaders.Expires, message.Expiration == 0 ? "0" : message.Expiration.ToString(CultureInfo.InvariantCulture)));
        headers.Add(new(StompHeaders.Priority, message.Priority < Digits.Length ? Digits[message.Priority] : message.Priority.ToString(CultureInfo.InvariantCulture)));
        headers.Add(new(StompHeaders.Timestamp, message.Timestamp.ToString(CultureInfo.InvariantCulture)));
        if (message.CorrelationId is { } correlation)
        {
            headers.Add(new(StompHeaders.CorrelationId, correlation));
        }
        if (message.Type is { } type)
        {
            headers.Add(new(StompHeaders.Type, type));
        }
        if (message.ReplyTo is { } replyTo)
        {
            headers.Add(new(StompHeaders.ReplyTo, name(replyTo)));
        }
        if (message.Persistent)
        {
            headers.Add(new(StompHeaders.Persistent, "true"));
        }
        if (message.RedeliveryCounter > 0)
        {
            headers.Add(new(StompHeaders.Redelivered, "true"));
        }
        if (message.UserId is { } user)
        {
            headers.Add(new(StompHeaders.UserId, user));
        }
        if (message.OriginalDestination is { } original)
        {
            headers.Add(new(StompHeaders.OriginalDestination, name(original)));
        }
        if (message.GroupId is { } group)
        {
            headers.Add(new("JMSXGroupID", group));
            headers.Add(new("JMSXGroupSeq", message.GroupSequence.ToString(CultureInfo.InvariantCulture)));
        }
        bool isBytes = message.DataType == DataTypes.BytesMessage;
        ReadOnlyMemory<byte> body = message.DataType switch
        {
            DataTypes.TextMessage => TextBody(message),
            DataTypes.BytesMessage => Inflate(message),
            _ => ReadOnlyMemory<byte>.Empty, // Map, Object, Stream and plain messages: empty body, as ActiveMQ
        };
        if (message.MarshalledProperties is { Length: > 0 } marshalled && PrimitiveMap.Decode(marshalled) is { } properties)
        {
            foreach (var (key, value) in properties)
            {
                Set(headers, key, PropertyText(value));
            }
        }
        if (isBytes)
        {
            // Replaced by the real length when written.
            Set(headers, StompHeaders.ContentLength, "");
        }
        else
        {
            int contentLength = headers.FindIndex(static h => h.Key == StompHeaders.ContentLength);
            if (contentLength >= 0)
            {
                headers.RemoveAt(contentLength);
            }
        }
        return new StompFrame(StompCommands.Message, headers, body);

        static void Set(List<KeyValuePair<string, string>> headers, string key, string value)
        {
            for (int i = 0; i < headers.Count; i++)
            {
                if (headers[i].Key == key)
                {
                    headers[i] = new(key, value);
                    return;
                }
            }
            headers.Add(new(key, value));
        }
    }

    private static readonly string[] Digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Java's String.valueOf for a property value.</summary>
    private static string PropertyText(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        string s => s,
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static ReadOnlyMemory<byte> TextBody(Message message)
    {
        var content = Inflate(message);
        if (content.Length < 4)
        {
            return ReadOnlyMemory<byte>.Empty; // null text
        }
        int length = BinaryPrimitives.ReadInt32BigEndian(content.Span);
        if (length < 0 || length > content.Length - 4)
        {
            throw new ProtocolException($"TextMessage {message.MessageId} has a text length of {length} in {content.Length} content bytes");
        }
        var text = content.Slice(4, length);
        if (message.Compressed)
        {
            // Compressed text was modified UTF-8; STOMP clients get standard UTF-8.
            return System.Text.Encoding.UTF8.GetBytes(ModifiedUtf8.Decode(text.Span));
        }
        return text;
    }

    /// <summary>The content, decompressed if the producer compressed it (ActiveMQ uses zlib deflate).</summary>
    private static ReadOnlyMemory<byte> Inflate(Message message)
    {
        if (message.Content is not { } content)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        if (!message.Compressed)
        {
            return content;
        }
        using var input = new MemoryStream(content);
        using var zlib = new ZLibStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        zlib.CopyTo(output);
        return output.ToArray();
    }
}
