using System.Buffers;
using System.Buffers.Binary;
using Ferry.Protocol;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.OpenWire.Marshalling;

/// <summary>ActiveMQ's typed map encoding (openwire.md 9.1): message properties, MapMessage bodies, WireFormatInfo options.</summary>
public sealed class PrimitiveMapTests
{
    private static Dictionary<string, object?> RoundTrip(Dictionary<string, object?> map) =>
        PrimitiveMap.Decode(PrimitiveMap.Encode(map)!)!;

    public static TheoryData<string, object?> Values() => new()
    {
        { "null", null },
        { "bool true", true },
        { "bool false", false },
        { "sbyte", (sbyte)-7 },
        { "char", '\u20ac' },
        { "short", (short)-12345 },
        { "int", int.MinValue },
        { "long", 1_234_567_890_123L },
        { "double", 1.5 },
        { "double NaN", double.NaN },
        { "double -0", -0.0 },
        { "float", 3.25f },
        { "float infinity", float.NegativeInfinity },
        { "string", "v" },
        { "empty string", "" },
        { "string non-ASCII", "\u00e9\u4e2d\U0001F600" },
        { "bytes", new byte[] { 0, 1, 0xFF } },
        { "empty bytes", Array.Empty<byte>() },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void Every_value_type_round_trips(string key, object? value)
    {
        var decoded = RoundTrip(new Dictionary<string, object?> { [key] = value });
        Assert.Single(decoded);
        object? back = decoded[key];
        if (value is null)
        {
            Assert.Null(back);
            return;
        }
        Assert.IsType(value.GetType(), back);
        if (value is double d)
        {
            // Bit for bit, so NaN and -0.0 count.
            Assert.Equal(BitConverter.DoubleToInt64Bits(d), BitConverter.DoubleToInt64Bits((double)back!));
        }
        else
        {
            Assert.Equal(value, back);
        }
    }

    [Fact]
    public void Nested_maps_and_lists_round_trip()
    {
        var map = new Dictionary<string, object?>
        {
            ["map"] = new Dictionary<string, object?> { ["inner"] = 5, ["deeper"] = new Dictionary<string, object?> { ["x"] = "y" } },
            ["list"] = new List<object?> { 1, "two", null, new List<object?> { 3L }, new byte[] { 4 } },
        };
        var decoded = RoundTrip(map);

        var inner = Assert.IsType<Dictionary<string, object?>>(decoded["map"]);
        Assert.Equal(5, inner["inner"]);
        Assert.Equal("y", Assert.IsType<Dictionary<string, object?>>(inner["deeper"])["x"]);
        var list = Assert.IsType<List<object?>>(decoded["list"]);
        Assert.Equal(5, list.Count);
        Assert.Equal(1, list[0]);
        Assert.Equal("two", list[1]);
        Assert.Null(list[2]);
        Assert.Equal(3L, Assert.IsType<List<object?>>(list[3])[0]);
        Assert.Equal(new byte[] { 4 }, list[4]);
    }

    [Fact]
    public void Unsigned_byte_is_sent_as_a_java_byte()
    {
        var decoded = RoundTrip(new Dictionary<string, object?> { ["b"] = (byte)200 });
        Assert.Equal((sbyte)-56, decoded["b"]);
    }

    [Fact]
    public void Unsupported_value_types_are_refused_when_encoding()
    {
        Assert.Throws<ArgumentException>(() => PrimitiveMap.Encode(new Dictionary<string, object?> { ["d"] = 1.5m }));
        Assert.Throws<ArgumentException>(() => PrimitiveMap.Encode(new Dictionary<string, object?> { ["t"] = DateTime.UnixEpoch }));
    }

    private static readonly byte[] CapturedProperties = Convert.FromHexString(
        "00000005" +
        "0002" + "6c70" + "06" + "0000011f71fb04cb" +  // "lp" long
        "0002" + "6470" + "07" + "3ff8000000000000" +  // "dp" double
        "0002" + "7370" + "09" + "0001" + "76" +       // "sp" string
        "0002" + "6270" + "01" + "01" +                // "bp" boolean
        "0002" + "6970" + "05" + "00000007");          // "ip" int

    [Fact]
    public void Captured_java_message_properties_decode()
    {
        Assert.Equal(53, CapturedProperties.Length);
        var map = PrimitiveMap.Decode(CapturedProperties)!;

        Assert.Equal(5, map.Count);
        Assert.Equal(1_234_567_890_123L, map["lp"]);
        Assert.Equal(1.5, map["dp"]);
        Assert.Equal("v", map["sp"]);
        Assert.Equal(true, map["bp"] as bool?);
        Assert.Equal(7, map["ip"]);
    }

    [Fact]
    public void Encoding_the_captured_properties_in_the_same_order_gives_the_same_bytes()
    {
        var map = new Dictionary<string, object?>
        {
            ["lp"] = 1_234_567_890_123L,
            ["dp"] = 1.5,
            ["sp"] = "v",
            ["bp"] = true,
            ["ip"] = 7,
        };
        Assert.Equal(Convert.ToHexString(CapturedProperties), Convert.ToHexString(PrimitiveMap.Encode(map)!));
    }

    [Fact]
    public void Null_map_is_a_count_of_minus_one()
    {
        Assert.Null(PrimitiveMap.Decode([0xFF, 0xFF, 0xFF, 0xFF]));
        Assert.Null(PrimitiveMap.Encode(null));
        Assert.Empty(PrimitiveMap.Decode([0, 0, 0, 0])!);
    }

    /// <summary>The tag byte of the single value of a map whose only key is "s".</summary>
    private static byte TagOfValue(byte[] encoded) => encoded[4 + 2 + 1];

    [Theory]
    [InlineData(8190, 'a', PrimitiveMap.StringTag)]
    [InlineData(8191, 'a', PrimitiveMap.BigStringTag)]
    [InlineData(30000, 'a', PrimitiveMap.BigStringTag)]
    [InlineData(8190, '\u4e2d', PrimitiveMap.StringTag)]
    [InlineData(8191, '\u4e2d', PrimitiveMap.BigStringTag)]
    [InlineData(40000, '\u4e2d', PrimitiveMap.BigStringTag)] // 120 000 bytes: past the u16 limit of tag 9
    public void Strings_of_8191_or_more_units_use_the_big_string_tag(int length, char c, byte tag)
    {
        string value = new(c, length);
        byte[] encoded = PrimitiveMap.Encode(new Dictionary<string, object?> { ["s"] = value })!;
        Assert.Equal(tag, TagOfValue(encoded));
        if (tag == PrimitiveMap.BigStringTag)
        {
            Assert.Equal(ModifiedUtf8.GetByteCount(value), BinaryPrimitives.ReadInt32BigEndian(encoded.AsSpan(8)));
        }
        Assert.Equal(value, PrimitiveMap.Decode(encoded)!["s"]);
    }

    [Fact]
    public void Big_string_with_nul_and_surrogates_round_trips()
    {
        string value = string.Concat(Enumerable.Repeat("x\u0000\U0001F600", 3000));
        Assert.True(value.Length >= 8191);
        Assert.Equal(value, RoundTrip(new Dictionary<string, object?> { ["s"] = value })["s"]);
    }

    [Theory]
    [InlineData("7fffffff")]             // count far beyond the data
    [InlineData("00000001")]             // one entry, no data
    [InlineData("00000001000178")]       // key but no tag
    [InlineData("0000000100017805")]     // int tag, no value
    [InlineData("000000010001780e")]     // unknown tag 14
    [InlineData("000000010001780c80000000")] // list count negative
    [InlineData("000000010001780c7fffffff")] // list count huge
    [InlineData("000000010001780affffffff")] // byte[] length negative
    [InlineData("000000010001780d7fffffff")] // big string length huge
    [InlineData("000000010001780900ff41")]   // string length past the end
    [InlineData("00000001000178090001ff")]   // invalid modified UTF-8 in a string value
    public void Malformed_maps_are_refused(string hex)
    {
        Assert.Throws<ProtocolException>(() => PrimitiveMap.Decode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Deeply_nested_lists_are_refused_instead_of_exhausting_the_stack()
    {
        // 1000 lists, one inside the other: 5 KB of input. Each level recurses in the decoder, so a
        // hostile WireFormatInfo or message property block of a few hundred KB overflows the stack and
        // kills the process (a StackOverflowException cannot be caught). A sane limit must refuse this.
        var bytes = new List<byte> { 0, 0, 0, 1, 0, 1, (byte)'k' };
        for (int i = 0; i < 1000; i++)
        {
            bytes.AddRange(new byte[] { PrimitiveMap.ListTag, 0, 0, 0, 1 });
        }
        bytes.Add(PrimitiveMap.NullTag);
        Assert.Throws<ProtocolException>(() => PrimitiveMap.Decode(bytes.ToArray()));
    }

    [Fact]
    public void Keys_longer_than_65535_encoded_bytes_are_refused()
    {
        var map = new Dictionary<string, object?> { [new string('\u4e2d', 30000)] = 1 };
        Assert.Throws<ArgumentException>(() => PrimitiveMap.Encode(map));
    }

    [Fact]
    public void Map_and_message_property_keys_use_modified_utf8()
    {
        byte[] encoded = PrimitiveMap.Encode(new Dictionary<string, object?> { ["\u0000"] = null })!;
        Assert.Equal("00000001" + "0002C080" + "00", Convert.ToHexString(encoded));
        Assert.True(PrimitiveMap.Decode(encoded)!.ContainsKey("\u0000"));
    }
}
