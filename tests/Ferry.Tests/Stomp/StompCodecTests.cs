using System.Buffers;
using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.Stomp;

namespace Ferry.Tests.Stomp;

public sealed class StompCodecTests
{
    private static readonly string _captures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "captures");

    public static TheoryData<string> CaptureFiles()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(_captures, "stomp.*").Where(f => f.EndsWith(".c2s", StringComparison.Ordinal) || f.EndsWith(".s2c", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }
        return data;
    }

    private static List<StompFrame> ParseAll(StompParser parser, ReadOnlySequence<byte> seq, bool trackVersion)
    {
        var frames = new List<StompFrame>();
        while (parser.TryReadFrame(ref seq, out var frame))
        {
            frames.Add(frame!);
            if (trackVersion && frame!.Command == "CONNECTED" && StompVersions.TryParse(frame["version"], out var v))
            {
                parser.Version = v;
            }
            if (trackVersion && frame!.Command is "CONNECT" or "STOMP" && StompVersions.TryNegotiate(frame["accept-version"], out var a))
            {
                parser.Version = a;
            }
        }
        Assert.Equal(0, seq.Length);
        return frames;
    }

    private static byte[] Write(StompFrame frame, StompVersion version)
    {
        var w = new ArrayBufferWriter<byte>();
        StompWriter.Write(frame, version, w);
        return w.WrittenSpan.ToArray();
    }

    private static void AssertSame(StompFrame expected, StompFrame actual)
    {
        Assert.Equal(expected.Command, actual.Command);
        Assert.Equal(expected.Headers, actual.Headers);
        Assert.Equal(expected.Body.ToArray(), actual.Body.ToArray());
    }

    private static StompFrame ParseOne(byte[] bytes, StompVersion version, StompParserOptions? options = null)
    {
        var parser = new StompParser(options) { Version = version };
        var seq = new ReadOnlySequence<byte>(bytes);
        Assert.True(parser.TryReadFrame(ref seq, out var frame));
        return frame!;
    }

    [Theory]
    [MemberData(nameof(CaptureFiles))]
    public void EveryCaptureFrameParsesAndRoundTrips(string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(_captures, file));
        var options = new StompParserOptions { AllowHeaderLinesWithoutColon = true };
        var frames = ParseAll(new StompParser(options), new ReadOnlySequence<byte>(bytes), trackVersion: true);
        Assert.NotEmpty(frames);
        foreach (var frame in frames)
        {
            // Re-written with 1.2 rules (lossless), then read back with 1.2 rules.
            var again = ParseOne(Write(frame, StompVersion.V12), StompVersion.V12, options);
            AssertSame(frame, again);
        }
    }

    [Theory]
    [InlineData(StompVersion.V11)]
    [InlineData(StompVersion.V12)]
    public void EscapingRoundTrips(StompVersion version)
    {
        string value = version == StompVersion.V12 ? "a:b\nc\\d\re" : "a:b\nc\\d";
        var frame = new StompFrame("MESSAGE", H("k", value), H("x", "plain"));
        var back = ParseOne(Write(frame, version), version);
        AssertSame(frame, back);
    }

    [Fact]
    public void EscapesPerVersion()
    {
        Assert.Equal("a:b\n", StompEscaping.Escape("a:b\n", StompVersion.V10));
        Assert.Equal("a\\cb\\n\\\\\r", StompEscaping.Escape("a:b\n\\\r", StompVersion.V11));
        Assert.Equal("a\\cb\\n\\\\\\r", StompEscaping.Escape("a:b\n\\\r", StompVersion.V12));
        Assert.Equal("a\\te", StompEscaping.Unescape("a\\te", StompVersion.V11, strict: false));
        Assert.Throws<ProtocolException>(() => StompEscaping.Unescape("a\\te", StompVersion.V11, strict: true));
        Assert.Equal("\\r", StompEscaping.Unescape("\\r", StompVersion.V11, strict: false));
        Assert.Equal("\r", StompEscaping.Unescape("\\r", StompVersion.V12, strict: false));
    }

    [Theory]
    [InlineData(StompVersion.V10)]
    [InlineData(StompVersion.V11)]
    [InlineData(StompVersion.V12)]
    public void A_written_frame_is_its_text_in_UTF8(StompVersion version)
    {
        // The writer puts each piece straight into the output; the bytes must be those of the frame's text.
        var frames = new[]
        {
            new StompFrame("MESSAGE", [H("destination", "/queue/ä€𝄞"), H("k", "a:b\nc\\d\re"), H("content-length", "999"), H("content-length", "1"), H("x", "")], new byte[] { 0x41, 0, 0x42 }),
            new StompFrame("MESSAGE", [H("message-id", "ID:x:1:1:1"), H("expires", "0")], Encoding.UTF8.GetBytes("body ü")),
            new StompFrame("CONNECTED", [H("session", "a:b"), H("version", "1.2")], ReadOnlyMemory<byte>.Empty),
            new StompFrame("ERROR", [H("message", new string('m', 5000))], new byte[] { 0 }),
        };
        foreach (var frame in frames)
        {
            bool raw = frame.Command == "CONNECTED";
            var text = new StringBuilder(frame.Command).Append('\n');
            bool length = false;
            foreach (var (key, value) in frame.Headers)
            {
                if (key == "content-length")
                {
                    if (!length)
                    {
                        text.Append("content-length:").Append(frame.Body.Length).Append('\n');
                    }
                    length = true;
                    continue;
                }
                text.Append(key).Append(':').Append(raw ? value : StompEscaping.Escape(value, version)).Append('\n');
            }
            if (!length && frame.Body.Span.IndexOf((byte)0) >= 0)
            {
                text.Append("content-length:").Append(frame.Body.Length).Append('\n');
            }
            byte[] expected = [.. Encoding.UTF8.GetBytes(text.Append('\n').ToString()), .. frame.Body.Span, 0, (byte)'\n'];
            Assert.Equal(expected, Write(frame, version));
        }
    }

    [Fact]
    public void ConnectedIsNeverEscaped()
    {
        var frame = new StompFrame("CONNECTED", H("session", "ID:x:1"));
        Assert.Equal("CONNECTED\nsession:ID:x:1\n\n\0\n", Encoding.UTF8.GetString(Write(frame, StompVersion.V12)));
        Assert.Equal("ID:x:1", ParseOne(Write(frame, StompVersion.V12), StompVersion.V12)["session"]);
    }

    [Fact]
    public void ContentLengthBodyMayHoldNul()
    {
        var frame = new StompFrame("SEND", [H("destination", "/queue/A")], new byte[] { 0x41, 0, 0x42 });
        byte[] bytes = Write(frame, StompVersion.V12);
        Assert.Contains("content-length:3", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        var back = ParseOne(bytes, StompVersion.V12);
        Assert.Equal(new byte[] { 0x41, 0, 0x42 }, back.Body.ToArray());
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SEND\ncontent-length:1\n\nAB\0"), StompVersion.V12));
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SEND\ncontent-length:x\n\nA\0"), StompVersion.V12));
    }

    [Fact]
    public void SplitAtEveryByteGivesTheSameFrame()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("\n\r\nSEND\r\ndestination:/queue/A\r\nk:a\\cb\r\ncontent-length:3\r\n\r\nx\0y\0\nMESSAGE\nm:1\n\nbody\0");
        var whole = ParseAll(new StompParser { Version = StompVersion.V12 }, new ReadOnlySequence<byte>(bytes), false);
        Assert.Equal(2, whole.Count);
        for (int split = 0; split <= bytes.Length; split++)
        {
            var parser = new StompParser { Version = StompVersion.V12 };
            var got = new List<StompFrame>();
            var first = new ReadOnlySequence<byte>(bytes.AsMemory(0, split));
            while (parser.TryReadFrame(ref first, out var f))
            {
                got.Add(f!);
            }
            byte[] rest = [.. first.ToArray(), .. bytes.AsSpan(split)];
            got.AddRange(ParseAll(parser, Segmented(rest, split % 3 + 1), false));
            Assert.Equal(whole.Count, got.Count);
            for (int i = 0; i < whole.Count; i++)
            {
                AssertSame(whole[i], got[i]);
            }
        }
    }

    [Fact]
    public void LimitViolationsAreProtocolErrors()
    {
        var small = new StompParserOptions { MaxCommandLength = 8, MaxHeaderLineLength = 16, MaxHeaders = 2, MaxBodySize = 4, MaxFrameSize = 64 };
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SUBSCRIBEXX\n\n\0"), StompVersion.V12, small));
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SEND\nheader:0123456789abcdef\n\n\0"), StompVersion.V12, small));
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SEND\na:1\nb:2\nc:3\n\n\0"), StompVersion.V12, small));
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SEND\n\n12345\0"), StompVersion.V12, small));
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SEND\ncontent-length:5\n\n"), StompVersion.V12, small));
        Assert.Throws<ProtocolException>(() => ParseOne(Encoding.UTF8.GetBytes("SEND\n" + string.Concat(Enumerable.Repeat("a:1\n", 1)) + new string('x', 70)), StompVersion.V12, small with { MaxBodySize = 1000 }));
        // Incomplete input over a limit is rejected before the frame ends.
        var parser = new StompParser(small);
        var seq = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("SEND\nx:0123456789abcdefgh"));
        Assert.Throws<ProtocolException>(() => parser.TryReadFrame(ref seq, out _));
    }

    [Fact]
    public void HeartBeatsAreSkippedAndCrLfAccepted()
    {
        var parser = new StompParser { Version = StompVersion.V12 };
        var seq = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("\n\n\r\n"));
        Assert.False(parser.TryReadFrame(ref seq, out _));
        Assert.Equal(0, seq.Length);
        var frame = ParseOne(Encoding.UTF8.GetBytes("\r\n\nSEND\r\nh2: spaced \r\n\r\nbody\0"), StompVersion.V12);
        Assert.Equal("SEND", frame.Command);
        Assert.Equal(" spaced ", frame["h2"]);
        Assert.Equal("body"u8.ToArray(), frame.Body.ToArray());
        // 1.1 keeps the CR (ActiveMQ), 1.0 trims.
        Assert.Equal("val\r", ParseOne(Encoding.UTF8.GetBytes("SEND\ny:val\r\n\n\0"), StompVersion.V11)["y"]);
        Assert.Equal("val", ParseOne(Encoding.UTF8.GetBytes("SEND\ny: val \r\n\n\0"), StompVersion.V10)["y"]);
    }

    [Fact]
    public void FirstRepeatedHeaderWinsAndUnknownCommandsParse()
    {
        var frame = ParseOne(Encoding.UTF8.GetBytes("FOO\na:1\na:2\n\n\0"), StompVersion.V12);
        Assert.Equal("FOO", frame.Command);
        Assert.Equal("1", frame["a"]);
        Assert.Equal(2, frame.Headers.Count);
    }

    [Theory]
    [InlineData(null, true, StompVersion.V10)]
    [InlineData("1.0,1.1", true, StompVersion.V11)]
    [InlineData("1.2,1.0", true, StompVersion.V12)]
    [InlineData("2.0", false, StompVersion.V10)]
    public void NegotiatesHighestCommonVersion(string? accept, bool ok, StompVersion expected)
    {
        Assert.Equal(ok, StompVersions.TryNegotiate(accept, out var v));
        Assert.Equal(expected, v);
    }

    private static KeyValuePair<string, string> H(string name, string value) => new(name, value);

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int size)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        Segment first = new(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        Segment last = first;
        for (int i = size; i < bytes.Length; i += size)
        {
            last = last.Append(bytes.AsMemory(i, Math.Min(size, bytes.Length - i)));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long index)
        {
            Memory = memory;
            RunningIndex = index;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
