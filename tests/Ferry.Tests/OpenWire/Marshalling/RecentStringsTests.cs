using System.Text;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.OpenWire.Marshalling;

/// <summary>The decoder's recent-string cache returns the right text for every input, hit or miss.</summary>
public sealed class RecentStringsTests
{
    [Fact]
    public void Repeated_bytes_give_the_same_instance_and_different_bytes_their_own_text()
    {
        var strings = new RecentStrings();
        var id = Encoding.ASCII.GetBytes("ID:host-41234-1700000000000-1:1");
        string first = strings.Get(id, latin1: false);
        Assert.Equal("ID:host-41234-1700000000000-1:1", first);
        Assert.Same(first, strings.Get(id.ToArray(), latin1: false));
        // Same length, same slot-relevant bytes, different text elsewhere: must not be confused.
        var twin = Encoding.ASCII.GetBytes("ID:host-41234-1700000000000-1:1".Replace("host", "hust", StringComparison.Ordinal));
        Assert.Equal("ID:hust-41234-1700000000000-1:1", strings.Get(twin, latin1: false));
        Assert.Equal("ID:host-41234-1700000000000-1:1", strings.Get(id, latin1: false));
    }

    [Fact]
    public void Latin1_and_modified_utf8_of_the_same_bytes_stay_apart()
    {
        var strings = new RecentStrings();
        byte[] bytes = [0xC3, 0xA9]; // "é" in UTF-8, "Ã©" in Latin-1
        Assert.Equal("é", strings.Get(bytes, latin1: false));
        Assert.Equal("Ã©", strings.Get(bytes, latin1: true));
        Assert.Equal("é", strings.Get(bytes, latin1: false));
    }

    [Fact]
    public void Many_distinct_strings_all_decode_correctly_and_long_ones_bypass_the_cache()
    {
        var strings = new RecentStrings();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 500; i++)
            {
                string text = $"queue.{i}.{new string('x', i % 40)}";
                Assert.Equal(text, strings.Get(Encoding.ASCII.GetBytes(text), latin1: false));
            }
        }
        string longText = new('y', RecentStrings.MaxLength + 1);
        Assert.Equal(longText, strings.Get(Encoding.ASCII.GetBytes(longText), latin1: false));
        Assert.Equal("", strings.Get([], latin1: true));
    }
}
