using System.Buffers;
using System.Buffers.Text;
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
    /// Straight into <paramref name="output"/> as UTF-8, piece by piece (no intermediate text of the frame).
    /// </summary>
    public static void Write(StompFrame frame, StompVersion version, IBufferWriter<byte> output, bool addContentLength = false)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        Text(output, frame.Command);
        Byte(output, (byte)'\n');
        bool raw = StompEscaping.IsUnescapedCommand(frame.Command);
        bool wroteLength = false;
        foreach (var header in frame.Headers)
        {
            if (header.Key == StompCommands.ContentLength)
            {
                if (wroteLength)
                {
                    continue;
                }
                wroteLength = true;
                Length(output, frame.Body.Length);
                continue;
            }
            Text(output, header.Key);
            Byte(output, (byte)':');
            Text(output, raw ? header.Value : StompEscaping.Escape(header.Value, version));
            Byte(output, (byte)'\n');
        }
        if (!wroteLength && (addContentLength || frame.Body.Span.IndexOf((byte)0) >= 0))
        {
            Length(output, frame.Body.Length);
        }
        var span = output.GetSpan(frame.Body.Length + 3);
        span[0] = (byte)'\n';
        frame.Body.Span.CopyTo(span[1..]);
        span[1 + frame.Body.Length] = 0;
        span[2 + frame.Body.Length] = (byte)'\n';
        output.Advance(frame.Body.Length + 3);
    }

    private static void Text(IBufferWriter<byte> output, string text)
    {
        // The bound (3 bytes a char) is cheap to take but would make a long value ask for more than a pipe segment.
        int size = text.Length <= 256 ? Encoding.UTF8.GetMaxByteCount(text.Length) : Encoding.UTF8.GetByteCount(text);
        var span = output.GetSpan(size);
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private static void Byte(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    private static void Length(IBufferWriter<byte> output, int length)
    {
        Text(output, StompCommands.ContentLength);
        var span = output.GetSpan(16);
        span[0] = (byte)':';
        Utf8Formatter.TryFormat(length, span[1..], out int written);
        span[1 + written] = (byte)'\n';
        output.Advance(written + 2);
    }
}
