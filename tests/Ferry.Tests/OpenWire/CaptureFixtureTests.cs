using System.Buffers;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Tests.OpenWire;

/// <summary>Bytes captured between the real ActiveMQ 5.17.2 client and broker decode to the expected commands.</summary>
public sealed class CaptureFixtureTests
{
    private static readonly string CaptureDir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "captures");

    public static TheoryData<string> OpenWireCaptures()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(CaptureDir, "*.c2s").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            if (!name.StartsWith("stomp", StringComparison.Ordinal))
            {
                data.Add(name);
            }
        }
        return data;
    }

    internal static (List<DataStructure> ClientToBroker, List<DataStructure> BrokerToClient, NegotiatedWireFormat Settings) DecodeConnection(string name)
    {
        byte[] c2s = File.ReadAllBytes(Path.Combine(CaptureDir, name + ".c2s"));
        byte[] s2c = File.ReadAllBytes(Path.Combine(CaptureDir, name + ".s2c"));
        var clientWfi = FirstFrame(c2s);
        var brokerWfi = FirstFrame(s2c);
        // Each side negotiates its own advertised options against the other's.
        var settings = OptionsOf(brokerWfi).Negotiate(clientWfi);
        return (DecodeAll(c2s, settings), DecodeAll(s2c, settings), settings);
    }

    private static WireFormatInfo FirstFrame(byte[] stream)
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        var seq = new ReadOnlySequence<byte>(stream);
        Assert.True(codec.TryReadFrame(ref seq, out var first));
        return Assert.IsType<WireFormatInfo>(first);
    }

    private static WireFormatOptions OptionsOf(WireFormatInfo info)
    {
        var p = info.Properties;
        return new WireFormatOptions
        {
            Version = info.Version,
            TightEncodingEnabled = p["TightEncodingEnabled"] is true,
            CacheEnabled = p["CacheEnabled"] is true,
            CacheSize = p.TryGetValue("CacheSize", out var size) && size is int s ? s : 1024,
            StackTraceEnabled = p["StackTraceEnabled"] is true,
            SizePrefixDisabled = false,
            MaxFrameSize = long.MaxValue,
        };
    }

    private static List<DataStructure> DecodeAll(byte[] stream, NegotiatedWireFormat settings)
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        var seq = new ReadOnlySequence<byte>(stream);
        var result = new List<DataStructure>();
        Assert.True(codec.TryReadFrame(ref seq, out var wfi));
        result.Add(wfi!);
        codec.Apply(settings);
        while (codec.TryReadFrame(ref seq, out var command))
        {
            Assert.NotNull(command);
            result.Add(command);
        }
        Assert.Equal(0, seq.Length);
        return result;
    }

    [Theory]
    [MemberData(nameof(OpenWireCaptures))]
    public void Every_captured_frame_decodes_exactly(string name)
    {
        var (c2s, s2c, _) = DecodeConnection(name);
        Assert.IsType<WireFormatInfo>(c2s[0]);
        Assert.IsType<WireFormatInfo>(s2c[0]);
        Assert.True(c2s.Count > 1);
        Assert.Contains(s2c, c => c is BrokerInfo);
    }

    /// <summary>
    /// Decoding a captured connection and encoding it again gives the bytes the ActiveMQ Java client (c2s) and
    /// broker (s2c) sent, marshal cache included: our writer finds the same values in its table and gives new
    /// ones the same indexes as theirs.
    /// </summary>
    [Theory]
    [MemberData(nameof(OpenWireCaptures))]
    public void Reencoding_captures_gives_the_same_bytes_cached_or_not(string name)
    {
        var (c2s, s2c, settings) = DecodeConnection(name);
        foreach (var (direction, commands) in new[] { ("c2s", c2s), ("s2c", s2c) })
        {
            byte[] original = File.ReadAllBytes(Path.Combine(CaptureDir, name + "." + direction));
            using var writer = new OpenWireFormat(long.MaxValue);
            var output = new ArrayBufferWriter<byte>();
            writer.Write(commands[0], output);
            writer.Apply(settings);
            foreach (var command in commands.Skip(1))
            {
                writer.Write(command, output);
            }
            Assert.Equal(original, output.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public void Basic_session_decodes_to_the_documented_conversation()
    {
        var (c2s, s2c, settings) = DecodeConnection("simple.1");
        Assert.False(settings.TightEncoding);
        var info = Assert.IsType<ConnectionInfo>(c2s[1]);
        Assert.True(info.ResponseRequired);
        Assert.StartsWith("ID:", info.ConnectionId!.Value, StringComparison.Ordinal);
        Assert.True(info.Manageable);
        var broker = Assert.IsType<BrokerInfo>(s2c[1]);
        Assert.NotNull(broker.BrokerName);
        Assert.Contains(c2s, c => c is ShutdownInfo);
        Assert.Contains(s2c, c => c is Response r && r.CorrelationId == info.CommandId);
    }

    [Fact]
    public void Tight_cached_text_message_decodes_with_properties()
    {
        var messages = Directory.GetFiles(CaptureDir, "tight.*.c2s").Select(Path.GetFileNameWithoutExtension).OfType<string>()
            .SelectMany(n => DecodeConnection(n).ClientToBroker).OfType<Message>().ToList();
        Assert.NotEmpty(messages);
        var text = messages.First(m => m.DataType == DataTypes.TextMessage && m.Content is not null);
        Assert.NotNull(text.MessageId!.ProducerId);
        Assert.NotNull(text.Destination);
    }
}
