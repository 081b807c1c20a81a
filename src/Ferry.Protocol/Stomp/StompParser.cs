using System.Buffers;
using System.Globalization;
using System.Text;

namespace Ferry.Protocol.Stomp;

public sealed record StompParserOptions
{
    /// <summary>ActiveMQ's max command line length.</summary>
    public int MaxCommandLength { get; init; } = 1024;

    public int MaxHeaderLineLength { get; init; } = 10240;

    public int MaxHeaders { get; init; } = 1000;

    /// <summary>ActiveMQ <c>wireFormat.maxDataLength</c>: 100 MB.</summary>
    public long MaxBodySize { get; init; } = 100L * 1024 * 1024;

    /// <summary>ActiveMQ <c>wireFormat.maxFrameSize</c>: unlimited by default.</summary>
    public long MaxFrameSize { get; init; } = long.MaxValue;

    /// <summary>Reject undefined escapes such as <c>\t</c> (STOMP spec). ActiveMQ keeps them: false.</summary>
    public bool StrictEscapes { get; init; }

    /// <summary>Accept a header line with no colon as a header with an empty value (needed to read a
    /// 1.0 broker's raw LF in a value). ActiveMQ rejects such a line: false.</summary>
    public bool AllowHeaderLinesWithoutColon { get; init; }

    /// <summary>Honour content-length on every command; ActiveMQ only does on SEND and MESSAGE.</summary>
    public bool ContentLengthOnAllCommands { get; init; }
}

/// <summary>
/// Pure STOMP frame parser. <see cref="TryReadFrame"/> either takes one whole frame off the front of the
/// buffer or returns false ("need more") after consuming only inter-frame heart-beat bytes; call it again
/// with more data. Header parsing follows the connection's <see cref="Version"/>.
/// </summary>
public sealed class StompParser
{
    private static readonly UTF8Encoding _utf8 = new(false, false);

    public StompParser(StompParserOptions? options = null) => Options = options ?? new StompParserOptions();

    public StompParserOptions Options { get; }

    /// <summary>Version the connection negotiated; 1.0 until CONNECTED has been sent.</summary>
    public StompVersion Version { get; set; } = StompVersion.V10;

    public bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out StompFrame? frame)
    {
        frame = null;
        var reader = new SequenceReader<byte>(buffer);
        // Heart-beats and padding: LF, CRLF, and stray NULs between frames.
        while (reader.TryPeek(out byte b) && (b == (byte)'\n' || b == (byte)'\r' || b == 0))
        {
            reader.Advance(1);
        }
        buffer = buffer.Slice(reader.Position);
        if (reader.End)
        {
            return false;
        }
        var start = reader.Position;

        if (!reader.TryReadTo(out ReadOnlySequence<byte> commandLine, (byte)'\n'))
        {
            if (reader.Remaining > Options.MaxCommandLength)
            {
                throw new ProtocolException("The maximum command length was exceeded");
            }
            CheckFrameSize(reader.Remaining);
            return false;
        }
        if (commandLine.Length > Options.MaxCommandLength)
        {
            throw new ProtocolException("The maximum command length was exceeded");
        }
        string command = Decode(commandLine).Trim();
        bool raw = StompEscaping.IsUnescapedCommand(command);
        // The CONNECT frame is always read with the 1.0 rules (CR stripped, values trimmed).
        var version = command is StompCommands.Connect or StompCommands.Stomp ? StompVersion.V10 : Version;

        var headers = new List<KeyValuePair<string, string>>();
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
            {
                if (reader.UnreadSequence.PositionOf((byte)'\n') is null && reader.Remaining > Options.MaxHeaderLineLength)
                {
                    throw new ProtocolException($"The maximum header length of {Options.MaxHeaderLineLength} bytes was exceeded");
                }
                CheckFrameSize(buffer.Length);
                return false;
            }
            if (line.Length > Options.MaxHeaderLineLength)
            {
                throw new ProtocolException($"The maximum header length of {Options.MaxHeaderLineLength} bytes was exceeded");
            }
            string text = Decode(line);
            if (text.Length == 0 || text == "\r")
            {
                break;
            }
            if (version != StompVersion.V11 && text[^1] == '\r')
            {
                text = text[..^1];
            }
            if (headers.Count >= Options.MaxHeaders)
            {
                throw new ProtocolException($"The maximum number of headers ({Options.MaxHeaders}) was exceeded");
            }
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            string name;
            string value;
            if (colon < 0)
            {
                if (!Options.AllowHeaderLinesWithoutColon)
                {
                    throw new ProtocolException($"Unable to parse header line [{text}]");
                }
                name = text;
                value = string.Empty;
            }
            else
            {
                name = text[..colon];
                value = text[(colon + 1)..];
            }
            if (!raw)
            {
                value = StompEscaping.Unescape(value, version, Options.StrictEscapes);
            }
            if (version == StompVersion.V10)
            {
                value = value.Trim();
            }
            headers.Add(new(name, value));
        }

        byte[] body;
        string? contentLength = null;
        if (Options.ContentLengthOnAllCommands || command is StompCommands.Send or StompCommands.Message)
        {
            foreach (var h in headers)
            {
                if (h.Key == StompCommands.ContentLength)
                {
                    contentLength = h.Value;
                    break;
                }
            }
        }
        long headerBytes = buffer.Slice(start, reader.Position).Length;
        if (contentLength is not null)
        {
            if (!long.TryParse(contentLength.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long length))
            {
                throw new ProtocolException($"Specified content-length is not a valid integer: {contentLength}");
            }
            if (length > Options.MaxBodySize)
            {
                throw new ProtocolException($"The maximum data length of {Options.MaxBodySize} bytes was exceeded");
            }
            CheckFrameSize(headerBytes + length + 1);
            if (reader.Remaining < length + 1)
            {
                return false;
            }
            body = reader.UnreadSequence.Slice(0, length).ToArray();
            reader.Advance(length);
            if (!reader.TryRead(out byte nul) || nul != 0)
            {
                throw new ProtocolException("content-length bytes were read and there was no trailing null byte");
            }
        }
        else
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> bodySequence, 0))
            {
                if (reader.Remaining > Options.MaxBodySize)
                {
                    throw new ProtocolException($"The maximum data length of {Options.MaxBodySize} bytes was exceeded");
                }
                CheckFrameSize(buffer.Length);
                return false;
            }
            if (bodySequence.Length > Options.MaxBodySize)
            {
                throw new ProtocolException($"The maximum data length of {Options.MaxBodySize} bytes was exceeded");
            }
            body = bodySequence.ToArray();
        }
        CheckFrameSize(buffer.Slice(start, reader.Position).Length);
        frame = new StompFrame(command, headers, body);
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private void CheckFrameSize(long size)
    {
        if (size > Options.MaxFrameSize)
        {
            throw new ProtocolException($"The maximum frame size of {Options.MaxFrameSize} bytes was exceeded");
        }
    }

    private static string Decode(ReadOnlySequence<byte> bytes) =>
        bytes.IsSingleSegment ? _utf8.GetString(bytes.FirstSpan) : _utf8.GetString(bytes.ToArray());
}
