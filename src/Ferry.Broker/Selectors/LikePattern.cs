using System.Text;

namespace Ferry.Broker.Selectors;

/// <summary>
/// A LIKE pattern compiled once, at parse time: '%' matches any run of characters (none included),
/// '_' exactly one character (a surrogate pair counts as one, as with Java's regex-based matcher),
/// everything else itself, case-sensitively. No regular expression is involved, so characters such as
/// '.', '(' or '\' need no care.
/// <para>
/// The escape character follows ActiveMQ: it escapes only a following '%', '_' or itself; elsewhere it
/// is taken as written (and if it is itself '%' or '_', as that wildcard).
/// </para>
/// <para>
/// Matching splits the pattern at '%' into segments of fixed length (in code points). The first
/// segment is anchored at the start unless the pattern starts with '%', the last at the end unless it
/// ends with '%', and the segments between are found leftmost-first; for patterns of this shape that
/// greedy search is exact, and it runs in O(text × segment) time with no backtracking blow-up.
/// </para>
/// </summary>
internal sealed class LikePattern
{
    /// <summary>Stands for '_' in a segment's code points.</summary>
    private const int AnyCharacter = -1;

    private readonly Segment[] _segments;
    private readonly bool _hasPercent;
    private readonly bool _anchoredStart;
    private readonly bool _anchoredEnd;
    private readonly string _source;
    private readonly char? _escape;

    private LikePattern(string source, char? escape, Segment[] segments, bool hasPercent, bool anchoredStart, bool anchoredEnd)
    {
        _source = source;
        _escape = escape;
        _segments = segments;
        _hasPercent = hasPercent;
        _anchoredStart = anchoredStart;
        _anchoredEnd = anchoredEnd;
    }

    public static LikePattern Compile(string pattern, char? escape)
    {
        var segments = new List<Segment>();
        var current = new List<int>();
        bool hasPercent = false, anchoredStart = true, anchoredEnd = true;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == escape && i + 1 < pattern.Length && pattern[i + 1] is var next && (next == '%' || next == '_' || next == c))
            {
                current.Add(next);
                i++;
                anchoredEnd = true;
                continue;
            }
            if (c == '%')
            {
                hasPercent = true;
                if (i == 0)
                {
                    anchoredStart = false;
                }
                anchoredEnd = false;
                if (current.Count > 0)
                {
                    segments.Add(new Segment([.. current]));
                    current.Clear();
                }
                continue;
            }
            anchoredEnd = true;
            if (c == '_')
            {
                current.Add(AnyCharacter);
            }
            else if (char.IsHighSurrogate(c) && i + 1 < pattern.Length && char.IsLowSurrogate(pattern[i + 1]))
            {
                current.Add(char.ConvertToUtf32(c, pattern[i + 1]));
                i++;
            }
            else
            {
                current.Add(c);
            }
        }
        if (current.Count > 0 || !hasPercent)
        {
            segments.Add(new Segment([.. current]));
        }
        return new LikePattern(pattern, escape, [.. segments], hasPercent, anchoredStart, anchoredEnd);
    }

    public bool IsMatch(string text)
    {
        var segments = _segments;
        if (!_hasPercent)
        {
            // No '%': the single segment must cover the whole text.
            return segments[0].MatchAt(text, 0, text.Length, out int end) && end == text.Length;
        }

        int first = 0, last = segments.Length, position = 0, limit = text.Length;
        if (_anchoredStart)
        {
            // A pattern with '%' but anchored at the start has at least one segment.
            if (!segments[0].MatchAt(text, 0, text.Length, out position))
            {
                return false;
            }
            first = 1;
        }
        if (_anchoredEnd)
        {
            if (last <= first)
            {
                return false;
            }
            last--;
            if (!segments[last].MatchAtEnd(text, out limit) || limit < position)
            {
                return false;
            }
        }
        for (int i = first; i < last; i++)
        {
            if (!segments[i].Find(text, position, limit, out position))
            {
                return false;
            }
        }
        return true;
    }

    public override string ToString()
    {
        var sb = new StringBuilder().Append(SelectorValue.FromString(_source));
        if (_escape is { } e)
        {
            sb.Append(" ESCAPE ").Append(SelectorValue.FromString(e.ToString()));
        }
        return sb.ToString();
    }

    /// <summary>A run of the pattern between '%'s: code points to match, <see cref="AnyCharacter"/> for '_'.</summary>
    private sealed class Segment
    {
        private readonly int[] _codePoints;

        /// <summary>The segment as a string when it has no '_', for ordinal span searches.</summary>
        private readonly string? _literal;

        public Segment(int[] codePoints)
        {
            _codePoints = codePoints;
            if (Array.IndexOf(codePoints, AnyCharacter) < 0)
            {
                var sb = new StringBuilder(codePoints.Length);
                foreach (int cp in codePoints)
                {
                    if (cp <= char.MaxValue)
                    {
                        sb.Append((char)cp);
                    }
                    else
                    {
                        sb.Append(char.ConvertFromUtf32(cp));
                    }
                }
                _literal = sb.ToString();
            }
        }

        /// <summary>Matches the segment at <paramref name="start"/>, not running past <paramref name="limit"/>.</summary>
        public bool MatchAt(string text, int start, int limit, out int end)
        {
            if (_literal is not null)
            {
                end = start + _literal.Length;
                return end <= limit && text.AsSpan(start, _literal.Length).SequenceEqual(_literal);
            }
            int position = start;
            foreach (int expected in _codePoints)
            {
                if (position >= limit)
                {
                    end = position;
                    return false;
                }
                int width = WidthAt(text, position, limit);
                if (expected != AnyCharacter && expected != CodePointAt(text, position, width))
                {
                    end = position;
                    return false;
                }
                position += width;
            }
            end = position;
            return true;
        }

        /// <summary>Matches the segment so that it ends exactly at the end of the text.</summary>
        public bool MatchAtEnd(string text, out int start)
        {
            if (_literal is not null)
            {
                start = text.Length - _literal.Length;
                return start >= 0 && text.AsSpan(start).SequenceEqual(_literal);
            }
            // Walk back one code point per pattern element, then match forwards.
            start = text.Length;
            for (int i = 0; i < _codePoints.Length; i++)
            {
                if (start == 0)
                {
                    return false;
                }
                start -= start >= 2 && char.IsLowSurrogate(text[start - 1]) && char.IsHighSurrogate(text[start - 2]) ? 2 : 1;
            }
            return MatchAt(text, start, text.Length, out int end) && end == text.Length;
        }

        /// <summary>Finds the leftmost match starting at or after <paramref name="from"/> and ending by <paramref name="limit"/>.</summary>
        public bool Find(string text, int from, int limit, out int end)
        {
            if (_literal is not null)
            {
                int index = text.AsSpan(from, limit - from).IndexOf(_literal, StringComparison.Ordinal);
                end = index < 0 ? from : from + index + _literal.Length;
                return index >= 0;
            }
            for (int start = from; start < limit; start += WidthAt(text, start, limit))
            {
                if (MatchAt(text, start, limit, out end))
                {
                    return true;
                }
            }
            end = from;
            return false;
        }

        private static int WidthAt(string text, int position, int limit) =>
            position + 1 < limit && char.IsHighSurrogate(text[position]) && char.IsLowSurrogate(text[position + 1]) ? 2 : 1;

        private static int CodePointAt(string text, int position, int width) =>
            width == 2 ? char.ConvertToUtf32(text[position], text[position + 1]) : text[position];
    }
}
