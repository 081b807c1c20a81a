using System.Buffers;
using System.Reflection;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Commands;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Tests.OpenWire;

/// <summary>
/// Builds OpenWire objects with every public field set to a non-default value, walks them, and compares
/// them field by field. Values are deterministic: two calls to <see cref="Filled"/> give equal objects.
/// </summary>
internal static class OpenWireSamples
{
    /// <summary>Every type id in <see cref="DataTypes"/> except NULL.</summary>
    public static IReadOnlyList<byte> AllTypeIds { get; } = typeof(DataTypes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(byte))
        .Select(f => (byte)f.GetRawConstantValue()!)
        .Where(id => id != DataTypes.Null)
        .Order()
        .ToList();

    /// <summary>Strings that exercise tight's ASCII form, modified UTF-8 (NUL, 2- and 3-byte units, a surrogate pair) and the empty string.</summary>
    public static readonly string[] Strings =
    [
        "TEST.Q",
        "caf\u00e9 \u00fc\u00df \u4e2d\u6587 nul:\u0000 emoji:\U0001F600 end",
        "",
        "ID:host-1234-1700000000000-1:1",
    ];

    private static readonly long[] Longs = [1, 0xFFFF, 0x1_0000, 0xFFFF_FFFF, 0x1_0000_0000, -1, long.MinValue, long.MaxValue, 1_234_567_890_123];
    private static readonly int[] Ints = [1, -1, 70_000, int.MinValue, int.MaxValue, 42];
    private static readonly DestinationKind[] Kinds = [DestinationKind.Queue, DestinationKind.Topic, DestinationKind.TempQueue, DestinationKind.TempTopic];

    public static DataStructure Filled(byte typeId) => new Filler().Create(typeId);

    /// <summary>A fresh instance as the decoder creates it (all fields default), made encodable.</summary>
    public static DataStructure Empty(byte typeId)
    {
        var value = DataStructureFactory.Create(typeId, OpenWireFormat.CurrentVersion);
        if (value is WireFormatInfo wfi)
        {
            // The writer substitutes the magic when it is null, so the decoded object would differ.
            wfi.Magic = WireFormatInfo.MagicBytes.ToArray();
        }
        return value;
    }

    public static IEnumerable<FieldInfo> PublicFields(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Instance).OrderBy(f => f.MetadataToken);

    public static NegotiatedWireFormat Settings(int version = 12, bool tight = false, bool cache = false, bool stackTraces = false, int cacheSize = 1024) =>
        new(version, tight, cache, cache ? cacheSize : 0, false, stackTraces, true, 30_000, 10_000, long.MaxValue);

    /// <summary>One size-prefixed frame under <paramref name="settings"/>, from a fresh codec.</summary>
    public static byte[] Frame(DataStructure value, NegotiatedWireFormat settings)
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        codec.Apply(settings);
        return codec.Encode(value).ToArray();
    }

    /// <summary>The reference form for comparisons: loose, no cache, version 12, stack traces on.</summary>
    public static byte[] Canonical(DataStructure value) => Frame(value, Settings(stackTraces: true));

    public static DataStructure? DecodeOne(byte[] frame, NegotiatedWireFormat settings)
    {
        using var codec = new OpenWireFormat(long.MaxValue);
        codec.Apply(settings);
        var seq = new ReadOnlySequence<byte>(frame);
        Assert.True(codec.TryReadFrame(ref seq, out var value));
        Assert.Equal(0, seq.Length);
        return value;
    }

    /// <summary>
    /// Clears what a version or a disabled stack trace does not carry, so <paramref name="value"/> equals
    /// what a decoder under those settings produces.
    /// </summary>
    public static void DropWhatTheEncodingOmits(object? value, int version, bool stackTraces)
    {
        switch (value)
        {
            case null:
                return;
            case BrokerError error:
                if (!stackTraces)
                {
                    error.StackTrace = [];
                    error.Cause = null;
                }
                DropWhatTheEncodingOmits(error.Cause, version, stackTraces);
                return;
            case Array array:
                foreach (var item in array)
                {
                    DropWhatTheEncodingOmits(item, version, stackTraces);
                }
                return;
            case DataStructure ds:
                switch (ds)
                {
                    case MessageId id when version < 10:
                        id.TextView = null;
                        break;
                    case ConsumerInfo info when version < 10:
                        info.ClientId = null;
                        break;
                    case Message message when version < 10:
                        message.JmsxGroupFirstForConsumer = false;
                        break;
                    case NetworkBridgeFilter filter when version < 10:
                        // v9 carries a single networkTTL; the decoder copies it into both.
                        filter.ConsumerTtl = filter.MessageTtl;
                        break;
                    case SubscriptionInfo sub when version < 11:
                        sub.NoLocal = false;
                        break;
                }
                foreach (var field in PublicFields(ds.GetType()))
                {
                    DropWhatTheEncodingOmits(field.GetValue(ds), version, stackTraces);
                }
                return;
        }
    }

    /// <summary>The first difference between two object graphs, as "path: expected ..., got ...", or null if equal.</summary>
    public static string? Diff(object? expected, object? actual, string path)
    {
        if (expected is null || actual is null)
        {
            return expected is null && actual is null ? null : $"{path}: expected {Show(expected)}, got {Show(actual)}";
        }
        if (expected.GetType() != actual.GetType())
        {
            return $"{path}: expected a {expected.GetType().Name}, got a {actual.GetType().Name}";
        }
        switch (expected)
        {
            case string s:
                return string.Equals(s, (string)actual, StringComparison.Ordinal) ? null : $"{path}: expected {Show(s)}, got {Show(actual)}";
            case byte[] bytes:
                return bytes.AsSpan().SequenceEqual((byte[])actual) ? null : $"{path}: expected {Show(bytes)}, got {Show(actual)}";
            case Array array:
                {
                    var other = (Array)actual;
                    if (array.Length != other.Length)
                    {
                        return $"{path}: expected {array.Length} elements, got {other.Length}";
                    }
                    for (int i = 0; i < array.Length; i++)
                    {
                        if (Diff(array.GetValue(i), other.GetValue(i), $"{path}[{i}]") is { } d)
                        {
                            return d;
                        }
                    }
                    return null;
                }
            case BrokerError error:
                {
                    var other = (BrokerError)actual;
                    return Diff(error.ExceptionClass, other.ExceptionClass, path + ".ExceptionClass")
                        ?? Diff(error.Message, other.Message, path + ".Message")
                        ?? (error.StackTrace.SequenceEqual(other.StackTrace) ? null
                            : $"{path}.StackTrace: expected {error.StackTrace.Count} frames [{string.Join("; ", error.StackTrace)}], got {other.StackTrace.Count} [{string.Join("; ", other.StackTrace)}]")
                        ?? Diff(error.Cause, other.Cause, path + ".Cause");
                }
            case DataStructure ds:
                {
                    var other = (DataStructure)actual;
                    if (ds.DataType != other.DataType)
                    {
                        return $"{path}: expected data type {ds.DataType}, got {other.DataType}";
                    }
                    foreach (var field in PublicFields(ds.GetType()))
                    {
                        if (Diff(field.GetValue(ds), field.GetValue(other), $"{path}.{field.Name}") is { } d)
                        {
                            return d;
                        }
                    }
                    return null;
                }
            default:
                return expected.Equals(actual) ? null : $"{path}: expected {Show(expected)}, got {Show(actual)}";
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s.Replace("\0", "\\0", StringComparison.Ordinal) + "\"",
        byte[] b => Convert.ToHexString(b),
        _ => value.ToString() ?? value.GetType().Name,
    };

    /// <summary>Fills public fields by reflection, so a field added to a type is filled (or fails loudly) without editing this class.</summary>
    private sealed class Filler
    {
        private int _next;

        private int Next() => _next++;

        public DataStructure Create(byte typeId)
        {
            var value = DataStructureFactory.Create(typeId, OpenWireFormat.CurrentVersion);
            Fill(value, depth: 0);
            return value;
        }

        private T Fill<T>(T value, int depth) where T : DataStructure
        {
            foreach (var field in PublicFields(value.GetType()))
            {
                field.SetValue(value, ValueFor(field.FieldType, field.Name, depth));
            }
            return value;
        }

        private object? ValueFor(Type type, string name, int depth)
        {
            if (type == typeof(bool))
            {
                return true;
            }
            if (type == typeof(byte))
            {
                return (byte)(0x80 + Next() % 100);
            }
            if (type == typeof(sbyte))
            {
                return (sbyte)(-1 - Next() % 100);
            }
            if (type == typeof(short))
            {
                return (short)(-1 - Next() % 1000);
            }
            if (type == typeof(int))
            {
                return Ints[Next() % Ints.Length];
            }
            if (type == typeof(long))
            {
                return Longs[Next() % Longs.Length];
            }
            if (type == typeof(string))
            {
                return Strings[Next() % Strings.Length];
            }
            if (type == typeof(byte[]))
            {
                return name == nameof(WireFormatInfo.Magic) ? WireFormatInfo.MagicBytes.ToArray() : Bytes(1 + Next() % 40);
            }
            if (type == typeof(BrokerError))
            {
                return Next() % 2 == 0 ? ErrorWithStackTrace() : new BrokerError(Strings[1], "no stack trace");
            }
            if (type == typeof(Destination))
            {
                return Fill(new Destination(Kinds[Next() % Kinds.Length], ""), depth + 1);
            }
            if (type == typeof(TransactionId))
            {
                return Next() % 2 == 0 ? Fill(new LocalTransactionId(), depth + 1) : Fill(new XATransactionId(), depth + 1);
            }
            if (type == typeof(Message))
            {
                return Fill(new Message(DataTypes.TextMessage), depth + 1);
            }
            if (type == typeof(DataStructure))
            {
                // Polymorphic fields: values like those seen on the wire, including a marshal-aware nested message.
                DataStructure value = name switch
                {
                    nameof(ConsumerInfo.AdditionalPredicate) => new NetworkBridgeFilter(),
                    nameof(Message.DataStructure) => new ConsumerInfo(),
                    nameof(DataResponse.Data) => new Message(DataTypes.BytesMessage),
                    _ => new ConsumerId(),
                };
                return Fill(value, depth + 1);
            }
            if (type.IsArray)
            {
                return ArrayFor(type.GetElementType()!, depth);
            }
            if (typeof(DataStructure).IsAssignableFrom(type) && !type.IsAbstract)
            {
                return Fill((DataStructure)Activator.CreateInstance(type)!, depth + 1);
            }
            throw new NotSupportedException($"No sample value for field {name} of type {type}");
        }

        private Array ArrayFor(Type element, int depth)
        {
            if (element == typeof(BrokerInfo) && depth > 0)
            {
                return Array.Empty<BrokerInfo>();
            }
            DataStructure?[] items = element == typeof(DataStructure)
                ? [Fill(new XATransactionId(), depth + 1), null, Fill(new LocalTransactionId(), depth + 1), Fill(new Message(DataTypes.MapMessage), depth + 1)]
                : [(DataStructure)ValueFor(element, "element", depth)!, null, (DataStructure)ValueFor(element, "element", depth)!];
            var array = Array.CreateInstance(element, items.Length);
            Array.Copy(items, array, items.Length);
            return array;
        }

        private byte[] Bytes(int length)
        {
            var bytes = new byte[length];
            for (int i = 0; i < length; i++)
            {
                bytes[i] = (byte)(i * 37 + _next);
            }
            bytes[0] = 0x00;
            bytes[^1] = 0xFF;
            return bytes;
        }

        private BrokerError ErrorWithStackTrace() => new("javax.jms.JMSException", Strings[1])
        {
            StackTrace =
            [
                new StackTraceFrame("org.apache.activemq.broker.TransportConnection", "service", "TransportConnection.java", 1234),
                new StackTraceFrame("java.lang.Thread", "run\u00e9", null, -2),
            ],
            Cause = new BrokerError("java.io.IOException", null)
            {
                StackTrace = [new StackTraceFrame("Cause", "m", "Cause.java", 7)],
                Cause = new BrokerError("java.lang.IllegalStateException", "root"),
            },
        };
    }
}
