using Ferry.Protocol;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Broker.Selectors;

/// <summary>
/// What a selector reads while it evaluates one message: the header fields and the application
/// properties. The seam lets the broker decode a message's properties once and share them across
/// every selector that looks at it (or, later, hand over a lazily decoded map kept on the message).
/// </summary>
internal interface ISelectorContext
{
    Message Message { get; }

    /// <summary>An application property as its Java-typed value, or null when the message has none by that name.</summary>
    object? GetProperty(string name);

    /// <summary>
    /// ActiveMQ's <c>convert_string_expressions:</c> mode (STOMP subscriptions): a string compared
    /// with a number is read as a number, since STOMP can only send string properties.
    /// </summary>
    bool ConvertStringExpressions => false;
}

/// <summary>
/// The default context: decodes <see cref="Message.MarshalledProperties"/> on the first property lookup
/// and keeps the map for the rest of the evaluation. One instance per thread is reused, so a
/// <see cref="MessageSelector.Matches(Message)"/> call allocates nothing beyond the decode itself, and
/// the last decoded map is remembered by the identity of its bytes: dispatch copies share those bytes,
/// so the selectors of every consumer looking at one message decode it once per thread. That map
/// stays referenced until the thread decodes another, and relies on property bytes never being
/// changed in place once they are on a message.
/// </summary>
internal sealed class MessageSelectorContext : ISelectorContext
{
    [ThreadStatic] private static MessageSelectorContext? _threadContext;

    private Message? _message;
    private Dictionary<string, object?>? _properties;
    private bool _decoded;
    private bool _inUse;

    // The last map this thread decoded, by the identity of its bytes (never mutated once on a message).
    private byte[]? _lastBytes;
    private Dictionary<string, object?>? _lastProperties;

    public Message Message => _message ?? throw new InvalidOperationException("selector context used outside an evaluation");

    public bool ConvertStringExpressions { get; set; }

    /// <summary>This thread's context, set up for one evaluation; give it back with <see cref="Return"/>.</summary>
    public static MessageSelectorContext Rent(Message message)
    {
        var context = _threadContext ??= new MessageSelectorContext();
        if (context._inUse)
        {
            // Only if evaluations nest, which selectors never do; stay correct anyway.
            context = new MessageSelectorContext();
        }
        context._inUse = true;
        context._message = message;
        return context;
    }

    public static void Return(MessageSelectorContext context)
    {
        // Drop the message so the pooled context does not keep it alive (the one cached map stays).
        context._message = null;
        context._properties = null;
        context._decoded = false;
        context._inUse = false;
        context.ConvertStringExpressions = false;
    }

    /// <exception cref="ProtocolException">The message's property bytes are malformed.</exception>
    public object? GetProperty(string name)
    {
        if (!_decoded)
        {
            _properties = Decode(Message.MarshalledProperties);
            _decoded = true;
        }
        return _properties is not null && _properties.TryGetValue(name, out var value) ? value : null;
    }

    private Dictionary<string, object?>? Decode(byte[]? bytes)
    {
        if (bytes is null || bytes.Length == 0)
        {
            return null;
        }
        if (ReferenceEquals(bytes, _lastBytes))
        {
            return _lastProperties;
        }
        var properties = PrimitiveMap.Decode(bytes);
        _lastBytes = bytes;
        _lastProperties = properties;
        return properties;
    }
}
