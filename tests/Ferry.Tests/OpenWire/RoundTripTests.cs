using System.Buffers;
using Ferry.Protocol;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.OpenWire;

/// <summary>
/// Every type the factory knows, with every field set, survives encode + decode under every combination
/// of loose/tight, cache on/off, stack traces on/off and versions 9 to 12.
/// </summary>
public sealed class RoundTripTests
{
    public static TheoryData<bool, bool, bool, int> Encodings()
    {
        var data = new TheoryData<bool, bool, bool, int>();
        foreach (bool tight in new[] { false, true })
        {
            foreach (bool cache in new[] { false, true })
            {
                foreach (bool stackTraces in new[] { true, false })
                {
                    foreach (int version in new[] { 12, 11, 10, 9 })
                    {
                        data.Add(tight, cache, stackTraces, version);
                    }
                }
            }
        }
        return data;
    }

    public static TheoryData<byte> TypeIds() => new(OpenWireSamples.AllTypeIds);

    [Theory]
    [MemberData(nameof(TypeIds))]
    public void Samples_set_every_public_field_to_a_non_default_value(byte typeId)
    {
        var sample = OpenWireSamples.Filled(typeId);
        var fresh = OpenWireSamples.Empty(typeId);
        Assert.Equal(typeId, sample.DataType);
        foreach (var field in OpenWireSamples.PublicFields(sample.GetType()))
        {
            if (field.Name == nameof(WireFormatInfo.Magic))
            {
                continue;
            }
            object? value = field.GetValue(sample);
            Assert.NotNull(value);
            Assert.False(Equals(value, field.GetValue(fresh)), $"{sample.GetType().Name}.{field.Name} kept its default value");
        }
    }

    [Fact]
    public void Field_comparison_reports_the_path_of_a_difference_deep_inside()
    {
        var expected = (MessageDispatch)OpenWireSamples.Filled(DataTypes.MessageDispatch);
        var actual = (MessageDispatch)OpenWireSamples.Filled(DataTypes.MessageDispatch);
        Assert.Null(OpenWireSamples.Diff(expected, actual, "md"));

        actual.Message!.MessageId!.ProducerId!.SessionId++;
        Assert.Equal("md.Message.MessageId.ProducerId.SessionId", OpenWireSamples.Diff(expected, actual, "md")!.Split(':')[0]);

        actual = (MessageDispatch)OpenWireSamples.Filled(DataTypes.MessageDispatch);
        actual.Message!.Content![^1] ^= 1;
        Assert.StartsWith("md.Message.Content:", OpenWireSamples.Diff(expected, actual, "md"), StringComparison.Ordinal);

        actual = (MessageDispatch)OpenWireSamples.Filled(DataTypes.MessageDispatch);
        actual.Message!.BrokerPath![1] = new BrokerId("x");
        Assert.StartsWith("md.Message.BrokerPath[1]:", OpenWireSamples.Diff(expected, actual, "md"), StringComparison.Ordinal);

        var destination = (Destination)OpenWireSamples.Filled(DataTypes.Queue);
        var topic = new Destination(DestinationKind.Topic, destination.Name);
        Assert.NotNull(OpenWireSamples.Diff(destination, topic, "d"));
    }

    [Fact]
    public void Every_concrete_data_structure_class_is_created_by_some_type_id()
    {
        var created = OpenWireSamples.AllTypeIds
            .Select(id => DataStructureFactory.Create(id, OpenWireFormat.CurrentVersion).GetType())
            .ToHashSet();
        var concrete = typeof(DataStructure).Assembly.GetTypes()
            .Where(t => typeof(DataStructure).IsAssignableFrom(t) && !t.IsAbstract);
        Assert.All(concrete, t => Assert.Contains(t, created));
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Every_type_round_trips_field_by_field(bool tight, bool cache, bool stackTraces, int version)
    {
        // A small cache, shared by all frames, so indexes wrap within and across frames.
        var settings = OpenWireSamples.Settings(version, tight, cache, stackTraces, cacheSize: 7);
        using var writer = new OpenWireFormat(long.MaxValue);
        using var reader = new OpenWireFormat(long.MaxValue);
        writer.Apply(settings);
        reader.Apply(settings);
        var failures = new List<string>();
        int checkedCount = 0;

        foreach (byte typeId in OpenWireSamples.AllTypeIds)
        {
            if (typeId == DataTypes.BrokerSubscriptionInfo && version < 12)
            {
                continue; // v12 only, see BrokerSubscriptionInfo_is_unknown_before_version_12
            }
            foreach (bool filled in new[] { true, false })
            {
                Func<DataStructure> make = filled ? () => OpenWireSamples.Filled(typeId) : () => OpenWireSamples.Empty(typeId);
                string label = $"{(filled ? "filled" : "empty")} {make().GetType().Name} (type {typeId})";
                try
                {
                    byte[] frame = writer.Encode(make()).ToArray();
                    var buffer = new ReadOnlySequence<byte>(frame);
                    if (!reader.TryReadFrame(ref buffer, out var decoded) || buffer.Length != 0)
                    {
                        failures.Add($"{label}: the frame was not consumed exactly");
                        continue;
                    }
                    var expected = make();
                    OpenWireSamples.DropWhatTheEncodingOmits(expected, version, stackTraces);
                    if (OpenWireSamples.Diff(expected, decoded, label) is { } diff)
                    {
                        failures.Add(diff);
                    }
                    else if (!OpenWireSamples.Canonical(expected).AsSpan().SequenceEqual(OpenWireSamples.Canonical(decoded!)))
                    {
                        failures.Add($"{label}: canonical encodings differ");
                    }
                    checkedCount++;
                }
                catch (Exception e) when (e is ProtocolException or ArgumentException or InvalidCastException)
                {
                    failures.Add($"{label}: {e.GetType().Name}: {e.Message}");
                }
            }
        }

        Assert.Empty(failures);
        Assert.True(checkedCount >= 2 * 50, $"only {checkedCount} objects were checked");
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Each_frame_declares_its_exact_length(bool tight, bool cache, bool stackTraces, int version)
    {
        var settings = OpenWireSamples.Settings(version, tight, cache, stackTraces);
        foreach (byte typeId in OpenWireSamples.AllTypeIds.Where(id => id != DataTypes.BrokerSubscriptionInfo || version >= 12))
        {
            byte[] frame = OpenWireSamples.Frame(OpenWireSamples.Filled(typeId), settings);
            Assert.Equal(frame.Length - 4, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(frame));
            Assert.Equal(typeId, frame[4]);
        }
    }

    [Theory]
    [InlineData(12)]
    [InlineData(11)]
    [InlineData(10)]
    [InlineData(9)]
    public void Encoding_does_not_modify_the_encoded_object(int version)
    {
        foreach (bool tight in new[] { false, true })
        {
            foreach (byte typeId in OpenWireSamples.AllTypeIds.Where(id => id != DataTypes.BrokerSubscriptionInfo || version >= 12))
            {
                var value = OpenWireSamples.Filled(typeId);
                OpenWireSamples.Frame(value, OpenWireSamples.Settings(version, tight, cache: true, stackTraces: true));
                string? diff = OpenWireSamples.Diff(OpenWireSamples.Filled(typeId), value, $"{value.GetType().Name} after a v{version} {(tight ? "tight" : "loose")} encode");
                Assert.True(diff is null, diff);
            }
        }
    }

    [Theory]
    [InlineData(11)]
    [InlineData(10)]
    [InlineData(9)]
    public void BrokerSubscriptionInfo_is_unknown_before_version_12(int version)
    {
        byte[] frame = OpenWireSamples.Frame(OpenWireSamples.Filled(DataTypes.BrokerSubscriptionInfo), OpenWireSamples.Settings(version));
        Assert.Throws<ProtocolException>(() => OpenWireSamples.DecodeOne(frame, OpenWireSamples.Settings(version)));
    }

    public static TheoryData<string, bool, bool> Throwables() => new()
    {
        { "with frames and cause", true, false },
        { "with frames and cause", true, true },
        { "with frames and cause", false, false },
        { "with frames and cause", false, true },
        { "without frames", true, false },
        { "without frames", true, true },
        { "without frames", false, false },
        { "without frames", false, true },
        { "null message", true, true },
        { "null message", false, true },
    };

    [Theory]
    [MemberData(nameof(Throwables))]
    public void Exception_responses_keep_class_and_message_and_frames_only_with_stack_traces(string shape, bool stackTraces, bool tight)
    {
        BrokerError error = shape switch
        {
            "with frames and cause" => new BrokerError(JmsErrors.InvalidClientId, "Broker: b4 - Client: same-id \u00e9 already connected")
            {
                StackTrace = [new StackTraceFrame("a.B", "c", "B.java", 10), new StackTraceFrame("d.E", "f", null, -2)],
                Cause = new BrokerError("java.io.IOException", "io") { StackTrace = [new StackTraceFrame("g.H", "i", "H.java", 3)] },
            },
            "without frames" => new BrokerError(JmsErrors.Security, "denied"),
            _ => new BrokerError(JmsErrors.JmsException, null),
        };
        var response = new ExceptionResponse { CorrelationId = 17, Exception = error };
        var settings = OpenWireSamples.Settings(tight: tight, stackTraces: stackTraces);

        var decoded = Assert.IsType<ExceptionResponse>(OpenWireSamples.DecodeOne(OpenWireSamples.Frame(response, settings), settings));

        Assert.Equal(17, decoded.CorrelationId);
        Assert.Equal(error.ExceptionClass, decoded.Exception!.ExceptionClass);
        Assert.Equal(error.Message, decoded.Exception.Message);
        if (stackTraces)
        {
            Assert.Equal(error.StackTrace, decoded.Exception.StackTrace);
            Assert.Null(OpenWireSamples.Diff(error.Cause, decoded.Exception.Cause, "cause"));
        }
        else
        {
            Assert.Empty(decoded.Exception.StackTrace);
            Assert.Null(decoded.Exception.Cause);
        }
    }

    [Fact]
    public void Loose_exception_response_without_stack_traces_matches_the_captured_bytes()
    {
        // openwire.md 4.9: a real broker with stackTraceEnabled=false sent exactly this.
        const string message = "Broker: b4 - Client: same-id already connected from tcp://127.0.0.1:36692";
        var response = new ExceptionResponse { CorrelationId = 1, Exception = new BrokerError(JmsErrors.InvalidClientId, message) };
        byte[] frame = OpenWireSamples.Frame(response, OpenWireSamples.Settings(stackTraces: false));
        byte[] expected =
        [
            0x00, 0x00, 0x00, 0x7c, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            1, 1, 0x00, 0x22, .. "javax.jms.InvalidClientIDException"u8,
            1, 0x00, 0x49, .. System.Text.Encoding.ASCII.GetBytes(message),
        ];
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(frame));
    }

    [Theory]
    [InlineData("0000000A1E000000000000000001", false, 0, 1)] // loose Response, correlationId 1 (4.6)
    [InlineData("0000000B1E01000000000000000001", true, 0, 1)]  // tight Response (5.7)
    public void Responses_encode_to_the_captured_bytes(string hex, bool tight, int commandId, int correlationId)
    {
        var settings = OpenWireSamples.Settings(tight: tight);
        var response = new Response { CommandId = commandId, CorrelationId = correlationId };
        Assert.Equal(hex, Convert.ToHexString(OpenWireSamples.Frame(response, settings)), ignoreCase: true);
        var decoded = Assert.IsType<Response>(OpenWireSamples.DecodeOne(Convert.FromHexString(hex), settings));
        Assert.Equal(correlationId, decoded.CorrelationId);
    }

    [Fact]
    public void Keep_alive_and_shutdown_encode_to_the_captured_bytes()
    {
        Assert.Equal("000000060A0000000000", Convert.ToHexString(OpenWireSamples.Frame(new KeepAliveInfo(), OpenWireSamples.Settings())));
        Assert.Equal("000000070B01000000000D", Convert.ToHexString(OpenWireSamples.Frame(new ShutdownInfo { CommandId = 13 }, OpenWireSamples.Settings(tight: true))));
    }

    [Fact]
    public void Loose_connection_control_matches_the_captured_bytes()
    {
        // openwire.md 4.6: what the broker sends after a manageable ConnectionInfo (23 bytes).
        var control = new ConnectionControl { ConnectedBrokers = "", ReconnectTo = "" };
        Assert.Equal("0000001312000000000000000000000100000100000000",
            Convert.ToHexString(OpenWireSamples.Frame(control, OpenWireSamples.Settings())));
    }

    [Theory]
    [InlineData(300, 0xC0)]
    [InlineData(1000, 0x80)]
    public void Tight_boolean_streams_of_64_bytes_or_more_use_the_long_length_forms(int elements, int prefix)
    {
        // Each element costs 3 bits (notNull, string notNull, ascii): 300 -> 113 bytes, 1000 -> 375 bytes.
        var response = new DataArrayResponse
        {
            CorrelationId = 5,
            Data = Enumerable.Range(0, elements).Select(i => (DataStructure?)new BrokerId($"b{i}")).ToArray(),
        };
        var settings = OpenWireSamples.Settings(tight: true);
        byte[] frame = OpenWireSamples.Frame(response, settings);
        Assert.Equal(prefix, frame[5]);
        var decoded = OpenWireSamples.DecodeOne(frame, settings);
        Assert.Null(OpenWireSamples.Diff(response, decoded, "response"));
    }

    [Theory]
    [InlineData(0L, 0)]
    [InlineData(1L, 2)]
    [InlineData(65535L, 2)]
    [InlineData(65536L, 4)]
    [InlineData(4294967295L, 4)]
    [InlineData(4294967296L, 8)]
    [InlineData(-1L, 8)]
    [InlineData(long.MinValue, 8)]
    public void Tight_longs_take_the_smallest_form(long value, int dataBytes)
    {
        var settings = OpenWireSamples.Settings(tight: true);
        var info = new DestinationInfo { Timeout = value };
        byte[] frame = OpenWireSamples.Frame(info, settings);
        // size + type + stream(len 1, 1 byte) + commandId + operationType byte, plus the long.
        Assert.Equal(4 + 1 + 2 + 4 + 1 + dataBytes, frame.Length);
        Assert.Equal(value, Assert.IsType<DestinationInfo>(OpenWireSamples.DecodeOne(frame, settings)).Timeout);
    }

    [Fact]
    public void Version_9_consumer_info_has_no_client_id_and_message_id_no_text_view()
    {
        var info = new ConsumerInfo { ConsumerId = new ConsumerId("c", 1, 2), Selector = "a > 1", ClientId = "cid", SubscriptionName = "sub" };
        var v9 = OpenWireSamples.Settings(version: 9);
        var v10 = OpenWireSamples.Settings(version: 10);
        // clientId is a present string: 1 flag + 2 length + 3 bytes.
        Assert.Equal(OpenWireSamples.Frame(info, v10).Length - 6, OpenWireSamples.Frame(info, v9).Length);
        var decoded = Assert.IsType<ConsumerInfo>(OpenWireSamples.DecodeOne(OpenWireSamples.Frame(info, v9), v9));
        Assert.Null(decoded.ClientId);
        Assert.Equal("sub", decoded.SubscriptionName);

        var id = new MessageId(new ProducerId("p", 1, 2), 3) { TextView = "ID:x" };
        var decodedId = Assert.IsType<MessageId>(OpenWireSamples.DecodeOne(OpenWireSamples.Frame(id, v9), v9));
        Assert.Null(decodedId.TextView);
        Assert.Equal(3, decodedId.ProducerSequenceId);
    }
}
