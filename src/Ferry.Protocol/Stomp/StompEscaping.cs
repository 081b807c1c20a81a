using System.Text;

namespace Ferry.Protocol.Stomp;

/// <summary>Header value escaping. Header names are never escaped; CONNECT, STOMP and CONNECTED frames neither.</summary>
public static class StompEscaping
{
    /// <summary>True for the frames whose headers are never escaped (STOMP 1.2 spec).</summary>
    public static bool IsUnescapedCommand(string command) =>
        command is StompCommands.Connect or StompCommands.Stomp or StompCommands.Connected;

    /// <summary>Escapes a value for writing: 1.0 none (as ActiveMQ), 1.1 <c>\\ \n \c</c>, 1.2 adds <c>\r</c>.</summary>
    public static string Escape(string value, StompVersion version)
    {
        if (version == StompVersion.V10 || value.AsSpan().IndexOfAny("\\\n:\r") < 0)
        {
            return value;
        }
        var sb = new StringBuilder(value.Length + 8);
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case ':':
                    sb.Append("\\c");
                    break;
                case '\r' when version >= StompVersion.V12:
                    sb.Append("\\r");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// Decodes a received value. As ActiveMQ does, <c>\n \c \\</c> are decoded in every version, <c>\r</c> in 1.2.
    /// An undefined escape is kept as it is (ActiveMQ), or is a <see cref="ProtocolException"/> when
    /// <paramref name="strict"/> (STOMP 1.2 spec).
    /// </summary>
    public static string Unescape(string value, StompVersion version, bool strict)
    {
        int first = value.IndexOf('\\', StringComparison.Ordinal);
        if (first < 0)
        {
            return value;
        }
        var sb = new StringBuilder(value.Length);
        sb.Append(value, 0, first);
        for (int i = first; i < value.Length; i++)
        {
            char c = value[i];
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }
            char next = i + 1 < value.Length ? value[i + 1] : '\0';
            switch (next)
            {
                case '\\':
                    sb.Append('\\');
                    i++;
                    break;
                case 'n':
                    sb.Append('\n');
                    i++;
                    break;
                case 'c':
                    sb.Append(':');
                    i++;
                    break;
                case 'r' when version >= StompVersion.V12:
                    sb.Append('\r');
                    i++;
                    break;
                default:
                    if (strict)
                    {
                        throw new ProtocolException(i + 1 < value.Length
                            ? $"Undefined escape sequence \\{next} in header value"
                            : "Header value ends with an incomplete escape sequence");
                    }
                    sb.Append('\\');
                    break;
            }
        }
        return sb.ToString();
    }
}

public static class StompCommands
{
    public const string Connect = "CONNECT";
    public const string Stomp = "STOMP";
    public const string Connected = "CONNECTED";
    public const string Send = "SEND";
    public const string Message = "MESSAGE";
    public const string Receipt = "RECEIPT";
    public const string Error = "ERROR";
    public const string ContentLength = "content-length";
}
