using System.Text;
using Ferry.Protocol;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.OpenWire.Marshalling;

/// <summary>Java's modified UTF-8 (openwire.md 4.2): NUL is C0 80, characters outside the BMP are two 3-byte surrogates.</summary>
public sealed class ModifiedUtf8Tests
{
    private static byte[] Encode(string text)
    {
        var bytes = new byte[ModifiedUtf8.GetByteCount(text)];
        Assert.Equal(bytes.Length, ModifiedUtf8.Encode(text, bytes));
        return bytes;
    }

    [Theory]
    [InlineData("A", "41")]
    [InlineData("\u007f", "7F")]
    [InlineData("\u0000", "C080")]
    [InlineData("\u0080", "C280")]
    [InlineData("\u00e9", "C3A9")]
    [InlineData("\u07ff", "DFBF")]
    [InlineData("\u0800", "E0A080")]
    [InlineData("\u4e2d", "E4B8AD")]
    [InlineData("\uffff", "EFBFBF")]
    [InlineData("\U0001F600", "EDA0BDEDB880")] // U+1F600 = D83D DE00, each half in 3 bytes
    [InlineData("a\u0000b", "61C08062")]
    public void Encodes_like_java_write_utf(string text, string hex)
    {
        Assert.Equal(hex, Convert.ToHexString(Encode(text)));
        Assert.Equal(text, ModifiedUtf8.Decode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Nul_is_two_bytes_and_not_ascii()
    {
        Assert.Equal(2, ModifiedUtf8.GetByteCount("\0"));
        Assert.False(ModifiedUtf8.IsAscii("\0"));
        Assert.True(ModifiedUtf8.IsAscii("plain ASCII ~"));
        Assert.False(ModifiedUtf8.IsAscii("\u0080"));
    }

    [Fact]
    public void Emoji_takes_six_bytes_and_decodes_back()
    {
        const string emoji = "\U0001F600";
        byte[] bytes = Encode(emoji);
        Assert.Equal(6, bytes.Length);
        Assert.NotEqual(Encoding.UTF8.GetBytes(emoji), bytes); // standard UTF-8 uses 4 bytes
        Assert.Equal(emoji, ModifiedUtf8.Decode(bytes));
    }

    [Fact]
    public void Bmp_text_without_nul_matches_standard_utf8()
    {
        const string text = "Gr\u00fc\u00dfe, \u4e16\u754c! \u0416\u20ac";
        Assert.Equal(Encoding.UTF8.GetBytes(text), Encode(text));
    }

    [Fact]
    public void Every_utf16_code_unit_round_trips_including_lone_surrogates()
    {
        var chars = new char[65536];
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = (char)i;
        }
        string all = new(chars);
        byte[] bytes = Encode(all);
        Assert.Equal(1 * 127 + 2 * (1 + 0x7ff - 0x7f) + 3 * (0x10000 - 0x800), bytes.Length);
        Assert.Equal(all, ModifiedUtf8.Decode(bytes));
    }

    [Theory]
    [InlineData("F09F9880")] // standard 4-byte UTF-8 of U+1F600: Java's decoder rejects it too
    [InlineData("80")]       // continuation byte in lead position
    [InlineData("BF41")]
    [InlineData("F8")]
    [InlineData("FF")]
    [InlineData("41FE")]
    public void Invalid_lead_byte_is_refused(string hex)
    {
        Assert.Throws<ProtocolException>(() => ModifiedUtf8.Decode(Convert.FromHexString(hex)));
    }

    [Theory]
    [InlineData("C3")]     // 2-byte sequence cut short
    [InlineData("E0A0")]   // 3-byte sequence cut short
    [InlineData("C341")]   // second byte is not a continuation
    [InlineData("E041A0")]
    [InlineData("E0A041")]
    public void Truncated_or_malformed_sequences_are_refused(string hex)
    {
        Assert.Throws<ProtocolException>(() => ModifiedUtf8.Decode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Empty_input_is_the_empty_string()
    {
        Assert.Equal("", ModifiedUtf8.Decode([]));
        Assert.Equal(0, ModifiedUtf8.GetByteCount(""));
    }
}
