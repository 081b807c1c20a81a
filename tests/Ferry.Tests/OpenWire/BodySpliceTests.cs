using System.Buffers;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Tests.OpenWire;

/// <summary>
/// <see cref="OpenWireFormat.Write"/> hands a large body to the output straight from the message's
/// array instead of copying it into the frame buffer first: the bytes on the wire must be exactly
/// those of the contiguous encoding.
/// </summary>
public sealed class BodySpliceTests
{
    public static TheoryData<bool, bool, int, int> Cases()
    {
        var data = new TheoryData<bool, bool, int, int>();
        foreach (bool tight in new[] { false, true })
        {
            foreach (bool cache in new[] { false, true })
            {
                // Below, at and above the threshold (2048 by default), and a body far larger than a pipe segment.
                foreach (int body in new[] { 0, 2047, 2048, 5000, 300_000 })
                {
                    data.Add(tight, cache, 12, body);
                }
                data.Add(tight, cache, 9, 5000);
            }
        }
        return data;
    }

    private static MessageDispatch Dispatch(int bodySize, int propertiesSize)
    {
        var dispatch = (MessageDispatch)OpenWireSamples.Filled(DataTypes.MessageDispatch);
        dispatch.Message!.Content = Enumerable.Range(0, bodySize).Select(i => (byte)(i * 31 + 7)).ToArray();
        dispatch.Message.MarshalledProperties = Enumerable.Range(0, propertiesSize).Select(i => (byte)i).ToArray();
        return dispatch;
    }

    private static (byte[] Written, byte[] Contiguous) Both(DataStructure command, NegotiatedWireFormat settings)
    {
        using var writer = new OpenWireFormat(long.MaxValue);
        writer.Apply(settings);
        var output = new ArrayBufferWriter<byte>();
        writer.Write(command, output);
        // A second frame through the same codec, so a leftover splice would show.
        writer.Write(new KeepAliveInfo { CommandId = 9 }, output);
        using var contiguous = new OpenWireFormat(long.MaxValue);
        contiguous.Apply(settings);
        var expected = contiguous.Encode(command).ToArray().Concat(contiguous.Encode(new KeepAliveInfo { CommandId = 9 }).ToArray()).ToArray();
        return (output.WrittenSpan.ToArray(), expected);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Written_frames_equal_the_contiguous_encoding(bool tight, bool cache, int version, int bodySize)
    {
        var settings = OpenWireSamples.Settings(version, tight, cache);
        var dispatch = Dispatch(bodySize, propertiesSize: 3000);
        var (written, expected) = Both(dispatch, settings);
        Assert.Equal(expected, written);

        using var reader = new OpenWireFormat(long.MaxValue);
        reader.Apply(settings);
        var sequence = new ReadOnlySequence<byte>(written);
        Assert.True(reader.TryReadFrame(ref sequence, out var decoded));
        Assert.Equal(dispatch.Message!.Content, ((MessageDispatch)decoded!).Message!.Content);
        Assert.Equal(dispatch.Message.MarshalledProperties, ((MessageDispatch)decoded).Message!.MarshalledProperties);
        Assert.True(reader.TryReadFrame(ref sequence, out var keepAlive));
        Assert.IsType<KeepAliveInfo>(keepAlive);
    }

    [Fact]
    public void A_message_at_top_level_and_a_disabled_threshold_give_the_same_bytes()
    {
        var settings = OpenWireSamples.Settings(12, tight: true);
        var message = Dispatch(10_000, 0).Message!;
        var (written, expected) = Both(message, settings);
        Assert.Equal(expected, written);

        using var codec = new OpenWireFormat(long.MaxValue) { SpliceThreshold = int.MaxValue };
        codec.Apply(settings);
        var output = new ArrayBufferWriter<byte>();
        codec.Write(message, output);
        Assert.Equal(expected.AsSpan(0, output.WrittenCount).ToArray(), output.WrittenSpan.ToArray());
    }

    /// <summary>
    /// A large array inside the shared header (an XA transaction id the producer sent) is kept whole in
    /// the shared form, so every later frame built from it carries it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_large_array_in_a_shared_header_is_kept_whole(bool tight)
    {
        var settings = OpenWireSamples.Settings(12, tight);
        var dispatch = Dispatch(5000, 0);
        dispatch.Message!.OriginalTransactionId = new XATransactionId
        {
            FormatId = 1,
            GlobalTransactionId = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray(),
            BranchQualifier = [1, 2, 3],
        };
        var expected = OpenWireSamples.Frame(dispatch, settings);
        dispatch.Message.SharedHeader = new SharedHeaderEncoding();
        for (int i = 0; i < 3; i++)
        {
            using var codec = new OpenWireFormat(long.MaxValue);
            codec.Apply(settings);
            var output = new ArrayBufferWriter<byte>();
            codec.Write(dispatch, output);
            Assert.Equal(expected, output.WrittenSpan.ToArray());
        }
    }
}
