namespace Ferry.Broker.Destinations;

/// <summary>
/// ActiveMQ destination wildcards: names are dot-separated segments, <c>*</c> matches one segment,
/// <c>&gt;</c> matches all remaining segments.
/// </summary>
public static class DestinationFilter
{
    public static bool IsWildcard(string pattern) =>
        pattern.Contains('*', StringComparison.Ordinal) || pattern.Contains('>', StringComparison.Ordinal);

    public static bool Matches(string pattern, string name)
    {
        if (!IsWildcard(pattern))
        {
            return string.Equals(pattern, name, StringComparison.Ordinal);
        }
        var p = pattern.AsSpan();
        var n = name.AsSpan();
        while (true)
        {
            int pd = p.IndexOf('.');
            int nd = n.IndexOf('.');
            var ps = pd < 0 ? p : p[..pd];
            var ns = nd < 0 ? n : n[..nd];
            if (ps.SequenceEqual(">") && pd < 0)
            {
                // ">" is a wildcard only as the last segment; elsewhere it is a literal segment.
                return true;
            }
            if (!ps.SequenceEqual("*") && !ps.SequenceEqual(ns))
            {
                return false;
            }
            if (pd < 0 || nd < 0)
            {
                // Both must end together (a trailing ">" would have matched above).
                return pd < 0 && nd < 0 || (nd < 0 && p[(pd + 1)..].SequenceEqual(">"));
            }
            p = p[(pd + 1)..];
            n = n[(nd + 1)..];
        }
    }
}
