using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Ferry.Protocol.OpenWire;
using Ferry.Protocol.OpenWire.Marshalling;

namespace Ferry.Client.Internal;

/// <summary>Message bodies in ActiveMQ's formats (openwire.md 9.2).</summary>
internal static class BodyCodec
{
    /// <summary>i32 byte length + modified UTF-8; null text → null content.</summary>
    public static byte[]? EncodeText(string? text)
    {
        if (text is null)
        {
            return null;
        }
        int n = ModifiedUtf8.GetByteCount(text);
        var bytes = new byte[4 + n];
        BinaryPrimitives.WriteInt32BigEndian(bytes, n);
        ModifiedUtf8.Encode(text, bytes.AsSpan(4));
        return bytes;
    }

    public static string? DecodeText(byte[]? content)
    {
        if (content is null)
        {
            return null;
        }
        var reader = new SpanReader(content);
        int n = reader.ReadInt32();
        return n < 0 ? null : ModifiedUtf8.Decode(reader.ReadBytes(n));
    }

    /// <summary>A sequence of tag + value items, read to the end.</summary>
    public static byte[] EncodeStream(IEnumerable<object?> items)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        foreach (var item in items)
        {
            PrimitiveMap.WriteValue(buffer, item);
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static List<object?> DecodeStream(byte[]? content)
    {
        var items = new List<object?>();
        if (content is null)
        {
            return items;
        }
        var reader = new SpanReader(content);
        while (reader.Remaining > 0)
        {
            items.Add(PrimitiveMap.ReadValue(ref reader));
        }
        return items;
    }

    /// <summary>The uncompressed layout of a compressed body (Java's useCompression): zlib, and for bytes a length prefix first.</summary>
    public static byte[]? Inflate(byte[]? content, byte dataType)
    {
        if (content is null)
        {
            return null;
        }
        int limit = int.MaxValue;
        int offset = 0;
        if (dataType == DataTypes.BytesMessage)
        {
            limit = BinaryPrimitives.ReadInt32BigEndian(content);
            offset = 4;
        }
        using var input = new MemoryStream(content, offset, content.Length - offset);
        using var zlib = new ZLibStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        zlib.CopyTo(output);
        var inflated = output.ToArray();
        return inflated.Length > limit ? inflated[..limit] : inflated;
    }
}
