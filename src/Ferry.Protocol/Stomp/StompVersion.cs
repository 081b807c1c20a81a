namespace Ferry.Protocol.Stomp;

public enum StompVersion
{
    V10,
    V11,
    V12,
}

public static class StompVersions
{
    /// <summary>The versions the broker supports, highest first, as ActiveMQ lists them in errors.</summary>
    public const string SupportedList = "[1.2, 1.1, 1.0]";

    public static string ToHeaderValue(this StompVersion version) => version switch
    {
        StompVersion.V10 => "1.0",
        StompVersion.V11 => "1.1",
        StompVersion.V12 => "1.2",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    public static bool TryParse(string? value, out StompVersion version)
    {
        switch (value?.Trim())
        {
            case "1.0":
                version = StompVersion.V10;
                return true;
            case "1.1":
                version = StompVersion.V11;
                return true;
            case "1.2":
                version = StompVersion.V12;
                return true;
            default:
                version = StompVersion.V10;
                return false;
        }
    }

    /// <summary>
    /// Picks the highest supported version listed in a CONNECT <c>accept-version</c> header. A missing header
    /// means 1.0. Returns false when the lists do not overlap (ActiveMQ then sends a fatal ERROR).
    /// </summary>
    public static bool TryNegotiate(string? acceptVersion, out StompVersion version)
    {
        version = StompVersion.V10;
        if (acceptVersion is null)
        {
            return true;
        }
        bool found = false;
        foreach (string part in acceptVersion.Split(','))
        {
            if (TryParse(part, out var candidate) && (!found || candidate > version))
            {
                version = candidate;
                found = true;
            }
        }
        return found;
    }

    /// <summary>The ActiveMQ error text for an <c>accept-version</c> with no supported version.</summary>
    public static string UnsupportedMessage(string acceptVersion) =>
        $"Invalid Protocol version[{acceptVersion}], supported versions are: {SupportedList}";
}
