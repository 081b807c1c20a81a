using System.Buffers;
using System.Buffers.Binary;
using Ferry.Protocol;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Tests.OpenWire;

/// <summary>Frame boundaries and hostile input: every malformed frame is a ProtocolException, never a crash or a huge allocation.</summary>
public sealed class FramingTests
{
    private static ReadOnlySequence<byte> Seq(params byte[] bytes) => new(bytes);

    private static DataStructure? ReadSingle(byte[] frame, NegotiatedWireFormat settings) => OpenWireSamples.DecodeOne(frame, settings);

    /// <summary>A frame with the given type byte and body, and a size prefix that matches.</summary>
    private static byte[] RawFrame(byte type, params byte[] body)
    {
        var frame = new byte[5 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length + 1);
        frame[4] = type;
        body.CopyTo(frame, 5);
        return frame;
    }

    [Fact]
    public void Size_prefix_above_the_maximum_is_refused_before_the_body_arrives()
    {
        using var codec = new OpenWireFormat(maxFrameSize: 100L * 1024 * 1024);
        // Only the prefix of a frame of 2 GiB - 1 bytes: the codec must not wait for (or allocate) the body.
        var buffer = Seq(0x7F, 0xFF, 0xFF, 0xFF);
        var e = Assert.Throws<ProtocolException>(() => codec.TryReadFrame(ref buffer, out _));
        Assert.Contains("2147483647", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negotiated_maximum_frame_size_is_enforced_inclusively()
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        codec.Apply(OpenWireSamples.Settings() with { MaxFrameSize = 6 });
        byte[] keepAlive = OpenWireSamples.Frame(new KeepAliveInfo(), OpenWireSamples.Settings());
        Assert.Equal(6, BinaryPrimitives.ReadInt32BigEndian(keepAlive));
        var ok = new ReadOnlySequence<byte>(keepAlive);
        Assert.True(codec.TryReadFrame(ref ok, out var command));
        Assert.IsType<KeepAliveInfo>(command);

        var tooBig = new ReadOnlySequence<byte>(RawFrame(DataTypes.ControlCommand, 0, 0, 0, 0, 0, 0));
        Assert.Throws<ProtocolException>(() => codec.TryReadFrame(ref tooBig, out _));
    }

    [Theory]
    [InlineData(0x80, 0x00, 0x00, 0x00)] // 2 GiB: negative as an i32
    [InlineData(0xFF, 0xFF, 0xFF, 0xFF)] // -1
    [InlineData(0x00, 0x00, 0x00, 0x00)] // 0: not even a type byte
    public void Size_prefix_below_one_is_refused(byte b0, byte b1, byte b2, byte b3)
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        var buffer = Seq(b0, b1, b2, b3, 0x0a);
        Assert.Throws<ProtocolException>(() => codec.TryReadFrame(ref buffer, out _));
    }

    [Fact]
    public void Incomplete_frame_asks_for_more_data_and_leaves_the_buffer_alone()
    {
        byte[] frame = OpenWireSamples.Frame(OpenWireSamples.Filled(DataTypes.ConnectionInfo), OpenWireSamples.Settings());
        using var codec = new OpenWireFormat(long.MaxValue);
        for (int length = 0; length < frame.Length; length++)
        {
            var partial = new ReadOnlySequence<byte>(frame, 0, length);
            Assert.False(codec.TryReadFrame(ref partial, out var command));
            Assert.Null(command);
            Assert.Equal(length, partial.Length);
        }
        var whole = new ReadOnlySequence<byte>(frame);
        Assert.True(codec.TryReadFrame(ref whole, out var decoded));
        Assert.IsType<ConnectionInfo>(decoded);
    }

    [Fact]
    public void Consecutive_frames_are_taken_one_at_a_time_and_a_trailing_partial_frame_is_kept()
    {
        var settings = OpenWireSamples.Settings();
        byte[] first = OpenWireSamples.Frame(new KeepAliveInfo { CommandId = 1 }, settings);
        byte[] second = OpenWireSamples.Frame(new Response { CommandId = 2, CorrelationId = 9 }, settings);
        byte[] stream = [.. first, .. second, .. second.AsSpan(0, 7)];
        using var codec = new OpenWireFormat(long.MaxValue);
        var buffer = new ReadOnlySequence<byte>(stream);

        Assert.True(codec.TryReadFrame(ref buffer, out var a));
        Assert.Equal(1, Assert.IsType<KeepAliveInfo>(a).CommandId);
        Assert.True(codec.TryReadFrame(ref buffer, out var b));
        Assert.Equal(9, Assert.IsType<Response>(b).CorrelationId);
        Assert.False(codec.TryReadFrame(ref buffer, out _));
        Assert.Equal(7, buffer.Length);
    }

    [Fact]
    public void Null_frame_decodes_to_null()
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        var buffer = Seq(0x00, 0x00, 0x00, 0x01, 0x00);
        Assert.True(codec.TryReadFrame(ref buffer, out var command));
        Assert.Null(command);
        Assert.Equal(0, buffer.Length);
    }

    [Theory]
    [InlineData(13)]  // unassigned
    [InlineData(50)]  // journal types have no marshaller
    [InlineData(70)]  // reserved primitive type ids
    [InlineData(99)]
    [InlineData(255)]
    public void Unknown_type_byte_is_refused(byte type)
    {
        foreach (bool tight in new[] { false, true })
        {
            var settings = OpenWireSamples.Settings(tight: tight);
            Assert.Throws<ProtocolException>(() => ReadSingle(RawFrame(type, 0, 0, 0, 0, 0, 0, 0), settings));
        }
    }

    [Fact]
    public void Unknown_type_of_a_nested_object_is_refused()
    {
        // Loose ConnectionError: commandId, rr, exception = null, connectionId = notNull + type 13.
        byte[] frame = RawFrame(DataTypes.ConnectionError, 0, 0, 0, 1, 0, 0, 1, 13, 0);
        Assert.Throws<ProtocolException>(() => ReadSingle(frame, OpenWireSamples.Settings()));
    }

    [Fact]
    public void Nested_object_of_the_wrong_type_is_refused()
    {
        // Loose SessionInfo whose cached SessionId field holds a topic.
        byte[] frame = RawFrame(DataTypes.SessionInfo, 0, 0, 0, 1, 0, 1, DataTypes.Topic, 1, 0, 1, (byte)'T');
        Assert.Throws<ProtocolException>(() => ReadSingle(frame, OpenWireSamples.Settings()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Body_that_parses_past_its_declared_size_is_refused(bool tight)
    {
        var settings = OpenWireSamples.Settings(tight: tight);
        byte[] frame = OpenWireSamples.Frame(OpenWireSamples.Filled(DataTypes.ConnectionInfo), settings);
        Assert.True(frame.Length > 60);
        // The size says 50: the reader gets 50 bytes, and the fields need more.
        byte[] truncated = frame.AsSpan(0, 54).ToArray();
        BinaryPrimitives.WriteInt32BigEndian(truncated, 50);
        Assert.Throws<ProtocolException>(() => ReadSingle(truncated, settings));
    }

    [Fact]
    public void String_length_past_the_end_of_the_frame_is_refused()
    {
        // Loose ControlCommand: commandId, rr, command = notNull, length 0xFFFF, only "abc".
        byte[] loose = RawFrame(DataTypes.ControlCommand, 0, 0, 0, 1, 0, 1, 0xFF, 0xFF, (byte)'a', (byte)'b', (byte)'c');
        Assert.Throws<ProtocolException>(() => ReadSingle(loose, OpenWireSamples.Settings()));

        // Tight: stream of 1 byte = rr 0, notNull 1, ascii 1; then commandId, i16 length 100, "abc".
        byte[] tight = RawFrame(DataTypes.ControlCommand, 1, 0b110, 0, 0, 0, 1, 0, 100, (byte)'a', (byte)'b', (byte)'c');
        Assert.Throws<ProtocolException>(() => ReadSingle(tight, OpenWireSamples.Settings(tight: true)));

        // Tight ASCII length negative.
        byte[] negative = RawFrame(DataTypes.ControlCommand, 1, 0b110, 0, 0, 0, 1, 0x80, 0x00);
        Assert.Throws<ProtocolException>(() => ReadSingle(negative, OpenWireSamples.Settings(tight: true)));
    }

    [Theory]
    [InlineData(0xFF, 0xFF)] // -1
    [InlineData(0x80, 0x00)] // -32768
    [InlineData(0x7F, 0xFF)] // 32767, far more than the frame holds
    public void Array_count_that_is_negative_or_larger_than_the_frame_is_refused(byte hi, byte lo)
    {
        // DataArrayResponse: commandId, rr, correlationId, data = notNull + i16 count + one null element.
        byte[] loose = RawFrame(DataTypes.DataArrayResponse, 0, 0, 0, 1, 0, 0, 0, 0, 2, 1, hi, lo, 0);
        Assert.Throws<ProtocolException>(() => ReadSingle(loose, OpenWireSamples.Settings()));

        // Tight: stream = rr 0, array notNull 1, element notNull 0.
        byte[] tight = RawFrame(DataTypes.DataArrayResponse, 1, 0b010, 0, 0, 0, 1, 0, 0, 0, 2, hi, lo);
        Assert.Throws<ProtocolException>(() => ReadSingle(tight, OpenWireSamples.Settings(tight: true)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Array_of_null_elements_at_the_end_of_a_frame_decodes(bool tight)
    {
        // In tight encoding a null element is a single bit, with no data bytes: a valid array can announce
        // more elements than there are data bytes left in the frame.
        var settings = OpenWireSamples.Settings(tight: tight);
        var response = new DataArrayResponse { CorrelationId = 3, Data = [null, null, null] };
        var decoded = Assert.IsType<DataArrayResponse>(ReadSingle(OpenWireSamples.Frame(response, settings), settings));
        Assert.Equal(new DataStructure?[] { null, null, null }, decoded.Data);

        var consumer = new ConsumerInfo { NetworkConsumerPath = [null, null] };
        var decodedConsumer = Assert.IsType<ConsumerInfo>(ReadSingle(OpenWireSamples.Frame(consumer, settings), settings));
        Assert.Equal(2, decodedConsumer.NetworkConsumerPath!.Length);
    }

    [Theory]
    [InlineData(0xFF, 0xFF, 0xFF, 0xFF)] // -1
    [InlineData(0x7F, 0xFF, 0xFF, 0xFF)] // 2 GiB - 1
    public void Byte_array_length_that_is_negative_or_larger_than_the_frame_is_refused(byte b0, byte b1, byte b2, byte b3)
    {
        // PartialCommand: partId i32, data = notNull + i32 length.
        byte[] frame = RawFrame(DataTypes.PartialCommand, 0, 0, 0, 1, 1, b0, b1, b2, b3, 0xAA);
        Assert.Throws<ProtocolException>(() => ReadSingle(frame, OpenWireSamples.Settings()));
    }

    [Fact]
    public void Stack_trace_frame_count_that_is_negative_or_too_large_is_refused()
    {
        // Loose ExceptionResponse with stack traces: class "C", message null, then the frame count.
        foreach (byte[] count in new[] { new byte[] { 0xFF, 0xFF }, [0x7F, 0xFF] })
        {
            byte[] frame = RawFrame(DataTypes.ExceptionResponse, [0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, (byte)'C', 0, .. count, 0]);
            Assert.Throws<ProtocolException>(() => ReadSingle(frame, OpenWireSamples.Settings(stackTraces: true)));
        }
    }

    private static DataResponse NestedResponses(int depth)
    {
        var response = new DataResponse { CorrelationId = depth };
        for (int i = depth - 1; i > 0; i--)
        {
            response = new DataResponse { CorrelationId = i, Data = response };
        }
        return response;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Objects_nested_beyond_the_depth_limit_are_refused(bool tight)
    {
        var settings = OpenWireSamples.Settings(tight: tight);
        var shallow = NestedResponses(20);
        Assert.Null(OpenWireSamples.Diff(shallow, ReadSingle(OpenWireSamples.Frame(shallow, settings), settings), "shallow"));

        var deep = NestedResponses(40);
        var e = Assert.Throws<ProtocolException>(() => ReadSingle(OpenWireSamples.Frame(deep, settings), settings));
        Assert.Contains("nested", e.Message, StringComparison.OrdinalIgnoreCase);

    }

    [Fact]
    public void Hostile_nesting_far_deeper_than_the_stack_allows_is_refused()
    {
        // 100 000 loose DataResponses, each holding the next: a recursive reader without a limit would overflow the stack.
        byte[] level = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, DataTypes.DataResponse];
        var body = new List<byte>();
        for (int i = 0; i < 100_000; i++)
        {
            body.AddRange(level);
        }
        body.AddRange(new byte[10]);
        Assert.Throws<ProtocolException>(() => ReadSingle(RawFrame(DataTypes.DataResponse, [.. body]), OpenWireSamples.Settings()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Exception_causes_nested_beyond_the_depth_limit_are_refused(bool tight)
    {
        var error = new BrokerError("E0", "m");
        for (int i = 1; i < 100; i++)
        {
            error = new BrokerError($"E{i}", "m") { Cause = error };
        }
        var settings = OpenWireSamples.Settings(tight: tight, stackTraces: true);
        byte[] frame = OpenWireSamples.Frame(new ExceptionResponse { Exception = error }, settings);
        Assert.Throws<ProtocolException>(() => ReadSingle(frame, settings));
    }

    [Fact]
    public void Cache_index_outside_the_negotiated_size_is_refused()
    {
        var settings = OpenWireSamples.Settings(cache: true, cacheSize: 4);
        // Loose SessionInfo: commandId, rr, cached sessionId = isNew 1 + index + nested null.
        foreach (byte[] index in new[] { new byte[] { 0, 4 }, [0xFF, 0xFE], [0x7F, 0xFF] })
        {
            byte[] frame = RawFrame(DataTypes.SessionInfo, 0, 0, 0, 1, 0, 1, index[0], index[1], 0);
            Assert.Throws<ProtocolException>(() => ReadSingle(frame, settings));
        }
        // -1 is a new value the peer did not keep (ActiveMQ's writers send that when their table is full): read, not stored.
        Assert.IsType<SessionInfo>(ReadSingle(RawFrame(DataTypes.SessionInfo, 0, 0, 0, 1, 0, 1, 0xFF, 0xFF, 0), settings));
        byte[] lookup = RawFrame(DataTypes.SessionInfo, 0, 0, 0, 1, 0, 0, 0, 9);
        Assert.Throws<ProtocolException>(() => ReadSingle(lookup, settings));
    }

    [Fact]
    public void Cache_lookup_returns_the_value_stored_by_an_earlier_frame()
    {
        var settings = OpenWireSamples.Settings(cache: true, cacheSize: 4);
        using var codec = new OpenWireFormat(long.MaxValue);
        codec.Apply(settings);
        // Frame 1 stores SessionId("c", 1) at index 2; frame 2 refers to index 2 only.
        byte[] first = RawFrame(DataTypes.SessionInfo, 0, 0, 0, 1, 0, 1, 0, 2, 1, DataTypes.SessionId, 1, 0, 1, (byte)'c', 0, 0, 0, 0, 0, 0, 0, 1);
        byte[] second = RawFrame(DataTypes.SessionInfo, 0, 0, 0, 2, 0, 0, 0, 2);
        var buffer = new ReadOnlySequence<byte>([.. first, .. second]);
        Assert.True(codec.TryReadFrame(ref buffer, out var a));
        Assert.True(codec.TryReadFrame(ref buffer, out var b));
        Assert.Equal(new SessionId("c", 1), Assert.IsType<SessionInfo>(a).SessionId);
        Assert.Equal(new SessionId("c", 1), Assert.IsType<SessionInfo>(b).SessionId);
    }

    [Fact]
    public void Tight_frame_with_an_exhausted_boolean_stream_is_refused()
    {
        // KeepAliveInfo needs the responseRequired bit, but the stream is empty.
        byte[] frame = RawFrame(DataTypes.KeepAliveInfo, 0, 0, 0, 0, 1);
        Assert.Throws<ProtocolException>(() => ReadSingle(frame, OpenWireSamples.Settings(tight: true)));
        // A stream that announces more bytes than the frame holds.
        byte[] overlong = RawFrame(DataTypes.KeepAliveInfo, 40, 0, 0, 0, 0, 1);
        Assert.Throws<ProtocolException>(() => ReadSingle(overlong, OpenWireSamples.Settings(tight: true)));
    }

    [Fact]
    public void Tight_nested_message_flagged_as_pre_marshalled_is_refused()
    {
        var settings = OpenWireSamples.Settings(tight: true);
        var dispatch = new MessageDispatch { Message = new Message(DataTypes.TextMessage) };
        byte[] frame = OpenWireSamples.Frame(dispatch, settings);
        // Bits: rr, consumerId notNull, destination notNull, message notNull, then the marshal-aware bit.
        Assert.Equal(0b0_1000, frame[6] & 0b1_1111);
        Assert.NotNull(ReadSingle(frame, settings));
        frame[6] |= 0b1_0000;
        Assert.Throws<ProtocolException>(() => ReadSingle(frame, settings));
    }

    [Fact]
    public void Size_prefix_disabled_framing_is_refused()
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        Assert.Throws<ProtocolException>(() => codec.Apply(OpenWireSamples.Settings() with { SizePrefixDisabled = true }));
    }

    public static TheoryData<bool, bool> Modes() => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Frame_split_across_segments_decodes_like_a_contiguous_one(bool tight, bool cache)
    {
        var settings = OpenWireSamples.Settings(tight: tight, cache: cache, stackTraces: true);
        var message = OpenWireSamples.Filled(DataTypes.MessageDispatch);
        byte[] frame = OpenWireSamples.Frame(message, settings);
        byte[] expected = OpenWireSamples.Canonical(OpenWireSamples.DecodeOne(frame, settings)!);

        // Every single split point (including inside the size prefix), then one byte per segment.
        var splits = Enumerable.Range(1, frame.Length - 1).Select(at => new[] { at }).Append(Enumerable.Range(1, frame.Length - 1).ToArray());
        foreach (int[] cuts in splits)
        {
            var buffer = Segments(frame, cuts);
            Assert.False(buffer.IsSingleSegment);
            using var codec = new OpenWireFormat(long.MaxValue);
            codec.Apply(settings);
            Assert.True(codec.TryReadFrame(ref buffer, out var decoded));
            Assert.Equal(0, buffer.Length);
            Assert.Equal(expected, OpenWireSamples.Canonical(decoded!));
        }
    }

    [Fact]
    public void Two_frames_sharing_a_segment_boundary_both_decode()
    {
        var settings = OpenWireSamples.Settings();
        byte[] a = OpenWireSamples.Frame(OpenWireSamples.Filled(DataTypes.ConnectionInfo), settings);
        byte[] b = OpenWireSamples.Frame(OpenWireSamples.Filled(DataTypes.ProducerInfo), settings);
        byte[] stream = [.. a, .. b];
        var buffer = Segments(stream, [a.Length - 3, a.Length + 2, a.Length + 10]);
        using var codec = new OpenWireFormat(long.MaxValue);
        Assert.True(codec.TryReadFrame(ref buffer, out var first));
        Assert.True(codec.TryReadFrame(ref buffer, out var second));
        Assert.IsType<ConnectionInfo>(first);
        Assert.IsType<ProducerInfo>(second);
        Assert.Equal(0, buffer.Length);
    }

    /// <summary>A sequence whose segments end at the given offsets.</summary>
    private static ReadOnlySequence<byte> Segments(byte[] data, int[] cuts)
    {
        var bounds = cuts.Prepend(0).Append(data.Length).ToArray();
        var first = new Segment(data.AsMemory(bounds[0], bounds[1] - bounds[0]), 0);
        var last = first;
        for (int i = 1; i < bounds.Length - 1; i++)
        {
            last = last.Append(data.AsMemory(bounds[i], bounds[i + 1] - bounds[i]));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
