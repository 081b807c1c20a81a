namespace Ferry.Protocol.OpenWire.Marshalling;

/// <summary>
/// Java's "modified UTF-8" (DataOutput.writeUTF): NUL is two bytes and characters outside the BMP
/// are written as two 3-byte surrogates. Encoding.UTF8 differs on both, so Java peers would choke.
/// </summary>
public static class ModifiedUtf8
{
    public static int GetByteCount(ReadOnlySpan<char> text)
    {
        if (System.Text.Ascii.IsValid(text) && !text.Contains('\0'))
        {
            return text.Length;
        }
        int count = 0;
        foreach (char c in text)
        {
            count += c is >= '\u0001' and <= '\u007f' ? 1 : c <= '\u07ff' ? 2 : 3;
        }
        return count;
    }

    public static bool IsAscii(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (c is < '\u0001' or > '\u007f')
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Writes the encoded form of <paramref name="text"/>; the destination must hold GetByteCount bytes.</summary>
    public static int Encode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        if (!text.Contains('\0') && System.Text.Ascii.FromUtf16(text, destination, out int written) == System.Buffers.OperationStatus.Done)
        {
            return written;
        }
        int i = 0;
        foreach (char c in text)
        {
            if (c is >= '\u0001' and <= '\u007f')
            {
                destination[i++] = (byte)c;
            }
            else if (c <= '\u07ff')
            {
                destination[i++] = (byte)(0xC0 | ((c >> 6) & 0x1F));
                destination[i++] = (byte)(0x80 | (c & 0x3F));
            }
            else
            {
                destination[i++] = (byte)(0xE0 | ((c >> 12) & 0x0F));
                destination[i++] = (byte)(0x80 | ((c >> 6) & 0x3F));
                destination[i++] = (byte)(0x80 | (c & 0x3F));
            }
        }
        return i;
    }

    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Ascii.IsValid(bytes) && !bytes.Contains((byte)0))
        {
            return System.Text.Encoding.ASCII.GetString(bytes);
        }
        return string.Create(CharCount(bytes), bytes.ToArray(), static (chars, source) => DecodeInto(source, chars));
    }

    private static int CharCount(ReadOnlySpan<byte> bytes)
    {
        int chars = 0;
        for (int i = 0; i < bytes.Length; chars++)
        {
            byte b = bytes[i];
            i += (b & 0x80) == 0 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3
                : throw new ProtocolException($"Invalid modified UTF-8 lead byte 0x{b:x2}");
        }
        return chars;
    }

    private static void DecodeInto(ReadOnlySpan<byte> bytes, Span<char> chars)
    {
        int i = 0, o = 0;
        while (i < bytes.Length)
        {
            byte b = bytes[i];
            if ((b & 0x80) == 0)
            {
                chars[o++] = (char)b;
                i++;
            }
            else if ((b & 0xE0) == 0xC0)
            {
                if (i + 1 >= bytes.Length || (bytes[i + 1] & 0xC0) != 0x80)
                {
                    throw new ProtocolException("Truncated or malformed modified UTF-8 sequence");
                }
                chars[o++] = (char)(((b & 0x1F) << 6) | (bytes[i + 1] & 0x3F));
                i += 2;
            }
            else
            {
                if (i + 2 >= bytes.Length || (bytes[i + 1] & 0xC0) != 0x80 || (bytes[i + 2] & 0xC0) != 0x80)
                {
                    throw new ProtocolException("Truncated or malformed modified UTF-8 sequence");
                }
                chars[o++] = (char)(((b & 0x0F) << 12) | ((bytes[i + 1] & 0x3F) << 6) | (bytes[i + 2] & 0x3F));
                i += 3;
            }
        }
    }
}
