using System.Globalization;
using System.Text;

namespace Ferry.Broker.Selectors;

internal enum TokenKind : byte
{
    End,
    Identifier,
    String,
    Exact,
    Approximate,
    And,
    Or,
    Not,
    Between,
    Like,
    Escape,
    In,
    Is,
    Null,
    True,
    False,
    LeftParen,
    RightParen,
    Comma,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
}

/// <param name="Text">An identifier's name or a string literal's value (quotes removed, '' undone).</param>
/// <param name="ExactValue">An exact literal's value; 2^63 is kept as long.MinValue with <paramref name="Overflow"/> set, valid only under unary minus.</param>
internal readonly record struct Token(TokenKind Kind, int Start, int End, string? Text = null, long ExactValue = 0, double ApproximateValue = 0, bool Overflow = false);

/// <summary>
/// Splits a selector into tokens. Keywords are case-insensitive, identifiers case-sensitive. Besides
/// JMS's literals it accepts ActiveMQ's: a 'L' suffix on decimal integers, hexadecimal (0x1F) and
/// octal (017) integers, and '--' line and '/* */' block comments.
/// </summary>
internal static class SelectorLexer
{
    private static readonly Dictionary<string, TokenKind> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["AND"] = TokenKind.And,
        ["OR"] = TokenKind.Or,
        ["NOT"] = TokenKind.Not,
        ["BETWEEN"] = TokenKind.Between,
        ["LIKE"] = TokenKind.Like,
        ["ESCAPE"] = TokenKind.Escape,
        ["IN"] = TokenKind.In,
        ["IS"] = TokenKind.Is,
        ["NULL"] = TokenKind.Null,
        ["TRUE"] = TokenKind.True,
        ["FALSE"] = TokenKind.False,
    };

    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (true)
        {
            i = SkipBlanks(text, i);
            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, text.Length, text.Length));
                return tokens;
            }
            char c = text[i];
            int start = i;
            switch (c)
            {
                case '\'':
                    tokens.Add(ReadString(text, ref i));
                    continue;
                case '(': tokens.Add(new Token(TokenKind.LeftParen, start, ++i)); continue;
                case ')': tokens.Add(new Token(TokenKind.RightParen, start, ++i)); continue;
                case ',': tokens.Add(new Token(TokenKind.Comma, start, ++i)); continue;
                case '+': tokens.Add(new Token(TokenKind.Plus, start, ++i)); continue;
                case '-': tokens.Add(new Token(TokenKind.Minus, start, ++i)); continue;
                case '*': tokens.Add(new Token(TokenKind.Star, start, ++i)); continue;
                case '/': tokens.Add(new Token(TokenKind.Slash, start, ++i)); continue;
                case '%': tokens.Add(new Token(TokenKind.Percent, start, ++i)); continue;
                case '=':
                    if (Peek(text, i + 1) == '=')
                    {
                        throw SelectorErrors.At(text, start, "'==' is not a selector operator; use '='");
                    }
                    tokens.Add(new Token(TokenKind.Equal, start, ++i));
                    continue;
                case '<':
                    {
                        char next = Peek(text, i + 1);
                        var kind = next == '=' ? TokenKind.LessOrEqual : next == '>' ? TokenKind.NotEqual : TokenKind.Less;
                        i += kind == TokenKind.Less ? 1 : 2;
                        tokens.Add(new Token(kind, start, i));
                        continue;
                    }
                case '>':
                    {
                        var kind = Peek(text, i + 1) == '=' ? TokenKind.GreaterOrEqual : TokenKind.Greater;
                        i += kind == TokenKind.Greater ? 1 : 2;
                        tokens.Add(new Token(kind, start, i));
                        continue;
                    }
                case '!' when Peek(text, i + 1) == '=':
                    throw SelectorErrors.At(text, start, "'!=' is not a selector operator; use '<>'");
                case '"':
                    throw SelectorErrors.At(text, start, "'\"' does not delimit strings; string literals use single quotes");
            }
            if (IsDigit(c) || (c == '.' && IsDigit(Peek(text, i + 1))))
            {
                tokens.Add(ReadNumber(text, ref i));
                continue;
            }
            if (IsIdentifierStart(c))
            {
                while (i < text.Length && IsIdentifierPart(text[i]))
                {
                    i++;
                }
                string word = text[start..i];
                if (Keywords.TryGetValue(word, out var keyword))
                {
                    tokens.Add(new Token(keyword, start, i));
                }
                else if (word.Equals("XPATH", StringComparison.OrdinalIgnoreCase) || word.Equals("XQUERY", StringComparison.OrdinalIgnoreCase))
                {
                    throw SelectorErrors.At(text, start, $"{word.ToUpperInvariant()} selectors are not supported");
                }
                else
                {
                    tokens.Add(new Token(TokenKind.Identifier, start, i, word));
                }
                continue;
            }
            throw SelectorErrors.At(text, start, $"unexpected character {DescribeChar(c)}");
        }
    }

    private static int SkipBlanks(string text, int i)
    {
        while (i < text.Length)
        {
            char c = text[i];
            if (c is ' ' or '\t' or '\n' or '\r' or '\f')
            {
                i++;
            }
            else if (c == '-' && Peek(text, i + 1) == '-')
            {
                while (i < text.Length && text[i] is not ('\n' or '\r'))
                {
                    i++;
                }
            }
            else if (c == '/' && Peek(text, i + 1) == '*')
            {
                int close = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw SelectorErrors.At(text, i, "unterminated comment: '/*' without '*/'");
                }
                i = close + 2;
            }
            else
            {
                break;
            }
        }
        return i;
    }

    private static Token ReadString(string text, ref int i)
    {
        int start = i++;
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= text.Length)
            {
                throw SelectorErrors.At(text, start, "unterminated string literal (a quote inside a string is written '')");
            }
            char c = text[i++];
            if (c == '\'')
            {
                if (Peek(text, i) != '\'')
                {
                    return new Token(TokenKind.String, start, i, sb.ToString());
                }
                i++;
            }
            sb.Append(c);
        }
    }

    private static Token ReadNumber(string text, ref int i)
    {
        int start = i;
        if (text[i] == '0' && Peek(text, i + 1) is 'x' or 'X')
        {
            i += 2;
            int digitsStart = i;
            while (i < text.Length && char.IsAsciiHexDigit(text[i]))
            {
                i++;
            }
            if (i == digitsStart)
            {
                throw SelectorErrors.At(text, start, "hexadecimal literal needs digits after '0x'");
            }
            CheckEndOfNumber(text, start, i);
            // Java's Long.parseLong(hex, 16): signed, so 0x8000000000000000 and up do not fit.
            if (!long.TryParse(text.AsSpan(digitsStart, i - digitsStart), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long hex)
                || hex < 0)
            {
                throw SelectorErrors.At(text, start, $"hexadecimal literal {text[start..i]} is out of range (at most 0x7FFFFFFFFFFFFFFF)");
            }
            return new Token(TokenKind.Exact, start, i, ExactValue: hex);
        }

        while (i < text.Length && IsDigit(text[i]))
        {
            i++;
        }
        int integerEnd = i;
        bool approximate = false;
        if (Peek(text, i) == '.')
        {
            approximate = true;
            i++;
            while (i < text.Length && IsDigit(text[i]))
            {
                i++;
            }
        }
        if (Peek(text, i) is 'e' or 'E')
        {
            int j = i + 1;
            if (Peek(text, j) is '+' or '-')
            {
                j++;
            }
            if (IsDigit(Peek(text, j)))
            {
                approximate = true;
                i = j;
                while (i < text.Length && IsDigit(text[i]))
                {
                    i++;
                }
            }
        }
        if (approximate)
        {
            CheckEndOfNumber(text, start, i);
            double value = double.Parse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture);
            return new Token(TokenKind.Approximate, start, i, ApproximateValue: value);
        }

        var digits = text.AsSpan(start, integerEnd - start);
        if (digits.Length > 1 && digits[0] == '0')
        {
            // Octal, as in Java source and ActiveMQ.
            ulong octal = 0;
            foreach (char d in digits)
            {
                if (d > '7')
                {
                    throw SelectorErrors.At(text, start, $"invalid digit '{d}' in octal literal {digits} (integers starting with 0 are octal)");
                }
                octal = octal * 8 + (ulong)(d - '0');
                if (octal > long.MaxValue)
                {
                    throw SelectorErrors.At(text, start, $"octal literal {digits} is out of range");
                }
            }
            CheckEndOfNumber(text, start, i);
            return new Token(TokenKind.Exact, start, i, ExactValue: (long)octal);
        }

        if (Peek(text, i) is 'l' or 'L')
        {
            i++;
        }
        CheckEndOfNumber(text, start, i);
        ulong magnitude = 0;
        foreach (char d in digits)
        {
            ulong next = magnitude * 10 + (ulong)(d - '0');
            if (magnitude > ulong.MaxValue / 10 || next < magnitude || next > (ulong)long.MaxValue + 1)
            {
                throw SelectorErrors.At(text, start, $"integer literal {digits} is out of range (a long holds at most {long.MaxValue})");
            }
            magnitude = next;
        }
        return magnitude > long.MaxValue
            ? new Token(TokenKind.Exact, start, i, ExactValue: long.MinValue, Overflow: true)
            : new Token(TokenKind.Exact, start, i, ExactValue: (long)magnitude);
    }

    /// <summary>
    /// A number running straight into a letter ("12abc", "1e", "0x1FL") is malformed rather than two
    /// tokens; running into a keyword ("1AND") is two tokens, as ActiveMQ's longest-match lexer reads it.
    /// </summary>
    private static void CheckEndOfNumber(string text, int start, int i)
    {
        int end = i;
        while (end < text.Length && (IsIdentifierPart(text[end]) || text[end] == '.'))
        {
            end++;
        }
        if (end > i && !Keywords.ContainsKey(text[i..end]))
        {
            throw SelectorErrors.At(text, start, $"malformed number '{text[start..end]}'");
        }
    }

    private static char Peek(string text, int i) => i < text.Length ? text[i] : '\0';

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    private static bool IsIdentifierStart(char c) => char.IsLetter(c) || c == '_' || c == '$';

    private static bool IsIdentifierPart(char c) => char.IsLetterOrDigit(c) || c == '_' || c == '$';

    private static string DescribeChar(char c) =>
        char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";
}

internal static class SelectorErrors
{
    /// <summary>Longer selectors are cut in messages so a huge selector cannot flood logs.</summary>
    private const int MaxQuotedLength = 200;

    public static BrokerException At(string selector, int position, string message)
    {
        string quoted = selector.Length <= MaxQuotedLength ? selector : string.Concat(selector.AsSpan(0, MaxQuotedLength), "...");
        return new BrokerException(
            Protocol.OpenWire.JmsErrors.InvalidSelector,
            $"Invalid selector \"{quoted}\": {message} (at column {position + 1})");
    }
}
