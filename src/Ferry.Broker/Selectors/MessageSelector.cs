using Ferry.Protocol;
using Ferry.Protocol.OpenWire.Commands;

namespace Ferry.Broker.Selectors;

/// <summary>
/// A parsed JMS message selector (the SQL-92 subset of JMS 1.1 §3.8, with ActiveMQ's extensions:
/// hexadecimal and octal integers, '%' modulo, '+' string concatenation, comments, the JMSX and
/// JMSActiveMQ header names). Parse once, then <see cref="Matches(Message)"/> from any number of
/// threads: the selector is immutable and evaluation allocates nothing beyond decoding the message's
/// properties.
/// </summary>
public sealed class MessageSelector
{
    /// <summary>The prefix ActiveMQ's STOMP layer puts before a subscription's selector (see <see cref="ConvertStringExpressions"/>).</summary>
    public const string ConvertStringExpressionsPrefix = "convert_string_expressions:";

    private readonly SelectorExpression _root;

    private MessageSelector(string text, SelectorExpression root, bool convertStringExpressions)
    {
        Text = text;
        _root = root;
        ConvertStringExpressions = convertStringExpressions;
    }

    /// <summary>Strings compared with numbers are read as numbers (STOMP subscriptions, as ActiveMQ).</summary>
    public bool ConvertStringExpressions { get; }

    /// <summary>The selector as the client wrote it.</summary>
    public string Text { get; }

    /// <summary>How the selector was parsed, fully parenthesised (diagnostics and tests).</summary>
    internal string ParsedForm => _root.ToString();

    /// <summary>Parses a selector; a null or blank selector is the caller's "no selector", not this.</summary>
    /// <exception cref="BrokerException">
    /// With <see cref="Protocol.OpenWire.JmsErrors.InvalidSelector"/>: a syntax or type error, described
    /// with the column where it was found.
    /// </exception>
    public static MessageSelector Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        bool convert = text.StartsWith(ConvertStringExpressionsPrefix, StringComparison.Ordinal);
        return new MessageSelector(text, SelectorParser.Parse(convert ? text[ConvertStringExpressionsPrefix.Length..] : text), convert);
    }

    /// <summary>
    /// Whether the message is selected: the selector must evaluate to TRUE; FALSE and unknown (NULL)
    /// both mean no. A message whose property bytes cannot be decoded is not selected.
    /// </summary>
    public bool Matches(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var context = MessageSelectorContext.Rent(message);
        context.ConvertStringExpressions = ConvertStringExpressions;
        try
        {
            return _root.EvaluateCondition(context) == Tri.True;
        }
        catch (ProtocolException)
        {
            return false;
        }
        finally
        {
            MessageSelectorContext.Return(context);
        }
    }

    /// <summary>Evaluates against a caller's context, e.g. one that shares decoded properties across selectors.</summary>
    internal bool Matches(ISelectorContext context) => _root.EvaluateCondition(context) == Tri.True;

    public override string ToString() => Text;
}
