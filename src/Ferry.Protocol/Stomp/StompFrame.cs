namespace Ferry.Protocol.Stomp;

/// <summary>
/// One STOMP frame: the command, every header line in wire order (repeats kept) and the body.
/// Lookups follow ActiveMQ: when a header repeats, the first occurrence wins.
/// </summary>
public sealed class StompFrame
{
    public StompFrame(string command, IReadOnlyList<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(headers);
        Command = command;
        Headers = headers;
        Body = body;
    }

    public StompFrame(string command, params KeyValuePair<string, string>[] headers)
        : this(command, headers, ReadOnlyMemory<byte>.Empty)
    {
    }

    public string Command { get; }

    /// <summary>All header lines in the order they were read or are to be written, repeats included.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The value of the first header called <paramref name="name"/>, or null.</summary>
    public string? this[string name] => TryGetHeader(name, out string? value) ? value : null;

    public bool TryGetHeader(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
    {
        foreach (var header in Headers)
        {
            if (string.Equals(header.Key, name, StringComparison.Ordinal))
            {
                value = header.Value;
                return true;
            }
        }
        value = null;
        return false;
    }

    public override string ToString() => $"{Command} ({Headers.Count} headers, {Body.Length} body bytes)";
}
