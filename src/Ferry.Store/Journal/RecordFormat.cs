// On-disk format of the journal (all integers little-endian).
//
// Segment file: <directory>/<id, 16 decimal digits>.journal; ids start at 1 and are never reused.
//
//   Segment header, 32 bytes:
//     0  u64  magic "FERRYJNL" (ASCII)
//     8  u16  format version (1)
//    10  u16  header size (32)
//    12  i64  segment id (equals the file name)
//    20  i64  base position: the next position to be assigned when the segment was created, so that positions
//             never go back even after every record has been deleted
//    28  u32  CRC-32 (IEEE) of bytes 0..27
//
//   Records follow back to back until the end of the file:
//     0  u32  CRC-32 (IEEE) of bytes 4 .. 8+length (the length field and the body)
//     4  u32  length of the body
//     8  body:
//          u8  kind: 1 = entry, 2 = atomic batch, 3 = moved entry (a copy made by compaction)
//          entry, moved entry:
//            i64 position, u8 type, i64 cancels (-1 = none), payload (the rest of the body)
//          atomic batch (consecutive positions; one checksum, so all of it or none of it survives):
//            i64 first position, u32 count (>= 1), count x { u8 type, i64 cancels, u32 payload length, payload }
//
// A record is valid only if the whole record lies within the file, its checksum matches and its body parses
// exactly. Recovery stops at the first invalid record: in the last segment, zeros from there to the end of the file
// are preallocated space (the writer zero-fills ahead of its appends and cuts a segment to its last record before
// starting the next), anything else there is a torn tail and is cut off; in any other segment it is corruption and
// the journal refuses to open. A position may be stored twice (the original
// and a moved copy, when a crash interrupted compaction); the copies are identical.
using System.Buffers.Binary;
using System.IO.Hashing;

namespace Ferry.Store.Journal;

/// <summary>A logical entry found in a segment: where its payload lies in the segment's bytes.</summary>
internal readonly record struct ParsedEntry(long Position, byte Type, long Cancels, int PayloadOffset, int PayloadLength);

/// <summary>Encodes and validates segment headers and records; pure functions over spans.</summary>
internal static class RecordFormat
{
    public const int SegmentHeaderSize = 32;
    public const ushort FormatVersion = 1;
    public const int RecordHeaderSize = 8;
    public const byte KindEntry = 1;
    public const byte KindBatch = 2;
    public const byte KindMoved = 3;

    /// <summary>Kind, position, type, cancels.</summary>
    public const int EntryFixedSize = 1 + 8 + 1 + 8;

    /// <summary>Kind, first position, count.</summary>
    public const int BatchFixedSize = 1 + 8 + 4;

    /// <summary>Type, cancels, payload length.</summary>
    public const int BatchItemFixedSize = 1 + 8 + 4;

    public const string FileExtension = ".journal";

    private const ulong Magic = 0x4C4E4A5952524546; // "FERRYJNL" read as a little-endian u64

    public static string FileName(long segmentId) => $"{segmentId:D16}{FileExtension}";

    public static bool TryParseFileName(string fileName, out long segmentId)
    {
        segmentId = 0;
        return fileName.Length == 16 + FileExtension.Length
            && fileName.EndsWith(FileExtension, StringComparison.Ordinal)
            && long.TryParse(fileName.AsSpan(0, 16), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out segmentId)
            && segmentId > 0;
    }

    /// <summary>The size of a single (or moved) entry record with a payload of this length.</summary>
    public static long EntryRecordSize(int payloadLength) => RecordHeaderSize + EntryFixedSize + (long)payloadLength;

    /// <summary>Where the payload starts, from the start of a single (or moved) entry record.</summary>
    public const int EntryPayloadOffset = RecordHeaderSize + EntryFixedSize;

    public static long BatchRecordSize(IReadOnlyList<JournalEntry> entries)
    {
        long size = RecordHeaderSize + BatchFixedSize;
        for (int i = 0; i < entries.Count; i++)
        {
            size += BatchItemFixedSize + entries[i].Payload.Length;
        }
        return size;
    }

    public static void WriteSegmentHeader(Span<byte> destination, long segmentId, long basePosition)
    {
        var header = destination[..SegmentHeaderSize];
        BinaryPrimitives.WriteUInt64LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], SegmentHeaderSize);
        BinaryPrimitives.WriteInt64LittleEndian(header[12..], segmentId);
        BinaryPrimitives.WriteInt64LittleEndian(header[20..], basePosition);
        BinaryPrimitives.WriteUInt32LittleEndian(header[28..], Crc32.HashToUInt32(header[..28]));
    }

    /// <summary>Checks a segment header; returns null if valid, else the reason.</summary>
    public static string? ValidateSegmentHeader(ReadOnlySpan<byte> bytes, long expectedId, out long basePosition)
    {
        basePosition = 0;
        if (bytes.Length < SegmentHeaderSize)
        {
            return $"the header is incomplete ({bytes.Length} of {SegmentHeaderSize} bytes)";
        }
        if (BinaryPrimitives.ReadUInt64LittleEndian(bytes) != Magic)
        {
            return "bad magic (not a Ferry journal segment)";
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[28..]) != Crc32.HashToUInt32(bytes[..28]))
        {
            return "header checksum mismatch";
        }
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
        if (version != FormatVersion)
        {
            return $"unsupported format version {version} (this build reads version {FormatVersion})";
        }
        if (BinaryPrimitives.ReadUInt16LittleEndian(bytes[10..]) != SegmentHeaderSize)
        {
            return "unexpected header size";
        }
        long id = BinaryPrimitives.ReadInt64LittleEndian(bytes[12..]);
        if (id != expectedId)
        {
            return $"the header names segment {id}, the file name segment {expectedId}";
        }
        basePosition = BinaryPrimitives.ReadInt64LittleEndian(bytes[20..]);
        return basePosition < 1 ? $"bad base position {basePosition}" : null;
    }

    /// <summary>Writes a single or moved entry record; returns its size.</summary>
    public static int WriteEntry(Span<byte> destination, byte kind, long position, byte type, long cancels, ReadOnlySpan<byte> payload)
    {
        int bodyLength = EntryFixedSize + payload.Length;
        var body = destination.Slice(RecordHeaderSize, bodyLength);
        body[0] = kind;
        BinaryPrimitives.WriteInt64LittleEndian(body[1..], position);
        body[9] = type;
        BinaryPrimitives.WriteInt64LittleEndian(body[10..], cancels);
        payload.CopyTo(body[EntryFixedSize..]);
        return Seal(destination, bodyLength);
    }

    /// <summary>Writes an atomic batch record with consecutive positions from <paramref name="firstPosition"/>; returns its size.</summary>
    public static int WriteBatch(Span<byte> destination, long firstPosition, IReadOnlyList<JournalEntry> entries)
    {
        int bodyLength = checked((int)(BatchRecordSize(entries) - RecordHeaderSize));
        var body = destination.Slice(RecordHeaderSize, bodyLength);
        body[0] = KindBatch;
        BinaryPrimitives.WriteInt64LittleEndian(body[1..], firstPosition);
        BinaryPrimitives.WriteUInt32LittleEndian(body[9..], (uint)entries.Count);
        int at = BatchFixedSize;
        for (int i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            body[at] = entry.Type;
            BinaryPrimitives.WriteInt64LittleEndian(body[(at + 1)..], entry.Cancels);
            BinaryPrimitives.WriteUInt32LittleEndian(body[(at + 9)..], (uint)entry.Payload.Length);
            entry.Payload.Span.CopyTo(body[(at + BatchItemFixedSize)..]);
            at += BatchItemFixedSize + entry.Payload.Length;
        }
        return Seal(destination, bodyLength);
    }

    /// <summary>Offsets of each batch entry's payload from the start of the batch record.</summary>
    public static long BatchPayloadOffset(IReadOnlyList<JournalEntry> entries, int index)
    {
        long at = RecordHeaderSize + BatchFixedSize + BatchItemFixedSize;
        for (int i = 0; i < index; i++)
        {
            at += BatchItemFixedSize + entries[i].Payload.Length;
        }
        return at;
    }

    /// <summary>
    /// Validates the record at <paramref name="offset"/> of a segment's bytes and adds its entries to
    /// <paramref name="entries"/>. Returns the record's size, or 0 with <paramref name="error"/> set.
    /// </summary>
    public static int TryParseRecord(ReadOnlySpan<byte> segment, int offset, List<ParsedEntry> entries, out string? error)
    {
        var rest = segment[offset..];
        if (rest.Length < RecordHeaderSize)
        {
            error = $"a record header is cut off ({rest.Length} bytes left)";
            return 0;
        }
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(rest);
        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]);
        if (bodyLength > (uint)(rest.Length - RecordHeaderSize))
        {
            error = $"the record length {bodyLength} runs past the end of the file ({rest.Length - RecordHeaderSize} bytes left)";
            return 0;
        }
        int size = RecordHeaderSize + (int)bodyLength;
        if (Crc32.HashToUInt32(rest[4..size]) != crc)
        {
            error = "record checksum mismatch";
            return 0;
        }
        int before = entries.Count;
        error = ParseBody(rest.Slice(RecordHeaderSize, (int)bodyLength), offset + RecordHeaderSize, entries);
        if (error is not null)
        {
            entries.RemoveRange(before, entries.Count - before);
            return 0;
        }
        return size;
    }

    private static string? ParseBody(ReadOnlySpan<byte> body, int bodyOffset, List<ParsedEntry> entries)
    {
        if (body.Length < 1)
        {
            return "empty record body";
        }
        switch (body[0])
        {
            case KindEntry or KindMoved:
            {
                if (body.Length < EntryFixedSize)
                {
                    return "entry record too short";
                }
                long position = BinaryPrimitives.ReadInt64LittleEndian(body[1..]);
                long cancels = BinaryPrimitives.ReadInt64LittleEndian(body[10..]);
                if (position < 1 || cancels < -1 || cancels >= position)
                {
                    return $"bad position {position} or cancelled position {cancels}";
                }
                entries.Add(new ParsedEntry(position, body[9], cancels, bodyOffset + EntryFixedSize, body.Length - EntryFixedSize));
                return null;
            }
            case KindBatch:
            {
                if (body.Length < BatchFixedSize)
                {
                    return "batch record too short";
                }
                long first = BinaryPrimitives.ReadInt64LittleEndian(body[1..]);
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(body[9..]);
                if (first < 1 || count == 0 || count > (uint)(body.Length / BatchItemFixedSize))
                {
                    return $"bad batch (first position {first}, {count} entries)";
                }
                int at = BatchFixedSize;
                for (uint i = 0; i < count; i++)
                {
                    if (body.Length - at < BatchItemFixedSize)
                    {
                        return "batch entry cut off";
                    }
                    byte type = body[at];
                    long cancels = BinaryPrimitives.ReadInt64LittleEndian(body[(at + 1)..]);
                    uint length = BinaryPrimitives.ReadUInt32LittleEndian(body[(at + 9)..]);
                    at += BatchItemFixedSize;
                    long position = first + i;
                    if (length > (uint)(body.Length - at) || cancels < -1 || cancels >= position)
                    {
                        return $"bad batch entry at position {position}";
                    }
                    entries.Add(new ParsedEntry(position, type, cancels, bodyOffset + at, (int)length));
                    at += (int)length;
                }
                return at == body.Length ? null : "trailing bytes after the batch entries";
            }
            default:
                return $"unknown record kind {body[0]}";
        }
    }

    private static int Seal(Span<byte> destination, int bodyLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)bodyLength);
        int size = RecordHeaderSize + bodyLength;
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Crc32.HashToUInt32(destination[4..size]));
        return size;
    }
}
