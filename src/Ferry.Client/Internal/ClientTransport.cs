using System.Text;
using Ferry.Protocol.Transport;

namespace Ferry.Client.Internal;

/// <summary>
/// The one place the client turns a transport URI into a transport (Protocol's <see cref="TransportFactory"/>:
/// <c>tcp://</c>, <c>nio://</c> or <c>failover:(…)</c>). The client advertises loose encoding unless the URI
/// sets <c>wireFormat.tightEncodingEnabled</c> itself.
/// </summary>
internal static class ClientTransport
{
    private const string TightOption = "wireFormat.tightEncodingEnabled";

    public static IOpenWireTransport Create(string uri, TimeProvider time) => TransportFactory.Create(PreferLoose(uri), time);

    /// <summary>Adds <c>wireFormat.tightEncodingEnabled=false</c> to every tcp endpoint that does not choose.</summary>
    internal static string PreferLoose(string uri)
    {
        var parsed = TransportUri.Parse(uri);
        if (!parsed.IsComposite)
        {
            return parsed.Options.ContainsKey(TightOption) ? uri : uri + (uri.Contains('?', StringComparison.Ordinal) ? "&" : "?") + TightOption + "=false";
        }
        var (_, outerQuery) = SplitOuterQuery(uri.Trim());
        var text = new StringBuilder(parsed.Scheme).Append(":(");
        for (int i = 0; i < parsed.Components.Count; i++)
        {
            text.Append(i > 0 ? "," : "").Append(PreferLoose(parsed.Components[i].Original));
        }
        return text.Append(')').Append(outerQuery).ToString();
    }

    private static (string Head, string Query) SplitOuterQuery(string uri)
    {
        int start = ConnectionOptions.OuterQueryStart(uri);
        return start < 0 ? (uri, "") : (uri[..start], uri[start..]);
    }
}
