using System.Buffers;
using System.Globalization;
using System.Text;

namespace Ferry.Protocol.Stomp;

/// <summary>Writes STOMP frames the way ActiveMQ does: escaped values per version, NUL then LF after the body.</summary>
public static class StompWriter
{
    private static readonly byte[] _heartBeat = [(byte)'\n'];

    /// <summary>A broker heart-beat: one LF.</summary>
    public static void WriteHeartBeat(IBufferWriter<byte> output) => output.Write(_heartBeat);

    /// <summary>
    /// Writes <paramref name="frame"/>. A content-length header present in the frame is rewritten with the
    /// real body length; one is added when <paramref name="addContentLength"/> is set or the body holds a NUL.
    /// </summary>
    public static void Write(StompFrame frame, StompVersion version, IBufferWriter<byte> output, bool addContentLength = false)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        var sb = new StringBuilder(128);
        sb.Append(frame.Command).Append('\n');
        bool raw = StompEscaping.IsUnescapedCommand(frame.Command);
        bool wroteLength = false;
        string length = frame.Body.Length.ToString(CultureInfo.InvariantCulture);
        foreach (var header in frame.Headers)
        {
            string value = header.Value;
            if (header.Key == StompCommands.ContentLength)
            {
                if (wroteLength)
                {
                    continue;
                }
                wroteLength = true;
                value = length;
            }
            sb.Append(header.Key).Append(':').Append(raw ? value : StompEscaping.Escape(value, version)).Append('\n');
        }
        if (!wroteLength && (addContentLength || frame.Body.Span.IndexOf((byte)0) >= 0))
        {
            sb.Append(StompCommands.ContentLength).Append(':').Append(length).Append('\n');
        }
        sb.Append('\n');
        string head = sb.ToString();
        int headLength = Encoding.UTF8.GetByteCount(head);
        int total = headLength + frame.Body.Length + 2;
        var span = output.GetSpan(total);
        Encoding.UTF8.GetBytes(head, span);
        frame.Body.Span.CopyTo(span[headLength..]);
        span[headLength + frame.Body.Length] = 0;
        span[headLength + frame.Body.Length + 1] = (byte)'\n';
        output.Advance(total);
    }
}
