namespace Ferry.Broker.Selectors;

/// <summary>
/// Recursive-descent parser for JMS message selectors, with ActiveMQ's extensions. Precedence, loosest
/// first:
/// <code>
/// or         := and (OR and)*
/// and        := not (AND not)*
/// not        := NOT not | equality
/// equality   := relational ( (= | &lt;&gt;) relational | IS [NOT] NULL )*
/// relational := additive ( (&lt; | &lt;= | &gt; | &gt;=) additive
///                        | [NOT] BETWEEN additive AND additive
///                        | [NOT] LIKE string [ESCAPE string]
///                        | [NOT] IN '(' string (, string)* ')' )*
/// additive   := multiplicative ((+ | -) multiplicative)*
/// multiplicative := unary ((* | / | %) unary)*
/// unary      := (+ | -) unary | primary
/// primary    := literal | identifier | '(' or ')'
/// </code>
/// NOT sits below the comparisons, as JMS specifies (ActiveMQ's grammar binds it tighter, so that
/// "NOT a = 1" reads as "(NOT a) = 1" there). Type errors visible in the text (comparing a string with
/// a number, ordering strings, NULL with '=', a number where a condition is needed) are rejected here.
/// </summary>
internal sealed class SelectorParser
{
    /// <summary>Parentheses, NOTs and signs nested inside each other; bounds the parser's recursion.</summary>
    internal const int MaxNesting = 100;

    /// <summary>Height of the expression tree; bounds evaluation's recursion (AND/OR chains are flat and do not add up).</summary>
    internal const int MaxDepth = 200;

    private const string OperandExpected = "a literal, a property name or '('";

    private readonly string _text;
    private readonly List<Token> _tokens;
    private int _index;
    private int _nesting;

    private SelectorParser(string text, List<Token> tokens)
    {
        _text = text;
        _tokens = tokens;
    }

    private Token Current => _tokens[_index];

    public static SelectorExpression Parse(string text)
    {
        var parser = new SelectorParser(text, SelectorLexer.Tokenize(text));
        if (parser.Current.Kind == TokenKind.End)
        {
            throw SelectorErrors.At(text, 0, "the selector is empty");
        }
        var root = parser.ParseOr();
        if (parser.Current.Kind == TokenKind.RightParen)
        {
            throw parser.Error(parser.Current.Start, "unexpected ')' without a matching '('");
        }
        if (parser.Current.Kind != TokenKind.End)
        {
            throw parser.Unexpected("an operator, AND, OR or the end of the selector");
        }
        parser.RequireCondition(root, "a selector");
        return root;
    }

    private SelectorExpression ParseOr()
    {
        var first = ParseAnd();
        if (Current.Kind != TokenKind.Or)
        {
            return first;
        }
        var operands = new List<SelectorExpression> { RequireCondition(first, "OR") };
        while (Accept(TokenKind.Or))
        {
            operands.Add(RequireCondition(ParseAnd(), "OR"));
        }
        return Node(new OrExpression([.. operands]), first.Start, operands[^1].End);
    }

    private SelectorExpression ParseAnd()
    {
        var first = ParseNot();
        if (Current.Kind != TokenKind.And)
        {
            return first;
        }
        var operands = new List<SelectorExpression> { RequireCondition(first, "AND") };
        while (Accept(TokenKind.And))
        {
            operands.Add(RequireCondition(ParseNot(), "AND"));
        }
        return Node(new AndExpression([.. operands]), first.Start, operands[^1].End);
    }

    private SelectorExpression ParseNot()
    {
        if (Current.Kind != TokenKind.Not)
        {
            return ParseEquality();
        }
        var not = Advance();
        Enter(not);
        var operand = RequireCondition(ParseNot(), "NOT");
        Exit();
        return Node(new NotExpression(operand), not.Start, operand.End);
    }

    private SelectorExpression ParseEquality()
    {
        var left = ParseRelational();
        while (true)
        {
            var op = Current;
            if (op.Kind is TokenKind.Equal or TokenKind.NotEqual)
            {
                Advance();
                var right = ParseRelational();
                CheckEquality(left, right, op);
                left = Node(new EqualityExpression(left, right, op.Kind == TokenKind.NotEqual), left.Start, right.End);
            }
            else if (op.Kind == TokenKind.Is)
            {
                Advance();
                bool not = Accept(TokenKind.Not);
                var end = Expect(TokenKind.Null, not ? "NULL after IS NOT" : "NULL or NOT NULL after IS");
                left = Node(new IsNullExpression(left, not), left.Start, end.End);
            }
            else
            {
                return left;
            }
        }
    }

    private SelectorExpression ParseRelational()
    {
        var left = ParseAdditive();
        while (true)
        {
            var op = Current;
            switch (op.Kind)
            {
                case TokenKind.Less:
                case TokenKind.LessOrEqual:
                case TokenKind.Greater:
                case TokenKind.GreaterOrEqual:
                    {
                        Advance();
                        var relational = op.Kind switch
                        {
                            TokenKind.Less => RelationalOperator.Less,
                            TokenKind.LessOrEqual => RelationalOperator.LessOrEqual,
                            TokenKind.Greater => RelationalOperator.Greater,
                            _ => RelationalOperator.GreaterOrEqual,
                        };
                        var right = ParseAdditive();
                        string symbol = $"'{RelationalExpression.Symbol(relational)}'";
                        RequireOrderable(left, symbol);
                        RequireOrderable(right, symbol);
                        left = Node(new RelationalExpression(left, right, relational), left.Start, right.End);
                        break;
                    }
                case TokenKind.Not:
                    Advance();
                    if (Current.Kind is not (TokenKind.Like or TokenKind.Between or TokenKind.In))
                    {
                        throw Unexpected("LIKE, BETWEEN or IN after NOT");
                    }
                    left = ParseSpecialComparison(left, not: true);
                    break;
                case TokenKind.Like:
                case TokenKind.Between:
                case TokenKind.In:
                    left = ParseSpecialComparison(left, not: false);
                    break;
                default:
                    return left;
            }
        }
    }

    private SelectorExpression ParseSpecialComparison(SelectorExpression left, bool not)
    {
        var keyword = Advance();
        string name = (not ? "NOT " : "") + keyword.Kind.ToString().ToUpperInvariant();
        switch (keyword.Kind)
        {
            case TokenKind.Like:
                {
                    if ((left.Type & (SelectorType.String | SelectorType.Null)) == 0)
                    {
                        throw Error(left.Start, $"{Quote(left)} is {TypeName(left.Type)}; {name} applies to strings");
                    }
                    var pattern = Expect(TokenKind.String, $"a string literal pattern after {name}");
                    char? escape = null;
                    int end = pattern.End;
                    if (Accept(TokenKind.Escape))
                    {
                        var escapeToken = Expect(TokenKind.String, "a one-character string literal after ESCAPE");
                        if (escapeToken.Text!.Length != 1)
                        {
                            throw Error(escapeToken.Start, $"the ESCAPE character must be a single character, not {escapeToken.Text.Length} ('{escapeToken.Text}')");
                        }
                        escape = escapeToken.Text[0];
                        end = escapeToken.End;
                    }
                    return Node(new LikeExpression(left, LikePattern.Compile(pattern.Text!, escape), not), left.Start, end);
                }
            case TokenKind.Between:
                {
                    var low = ParseAdditive();
                    Expect(TokenKind.And, $"AND between the bounds of {name}");
                    var high = ParseAdditive();
                    RequireOrderable(left, name);
                    RequireOrderable(low, name);
                    RequireOrderable(high, name);
                    return Node(new BetweenExpression(left, low, high, not), left.Start, high.End);
                }
            default:
                {
                    if (left is not IdentifierExpression)
                    {
                        throw Error(left.Start, $"{Quote(left)} is not a property name; {name} needs an identifier on its left");
                    }
                    Expect(TokenKind.LeftParen, $"'(' after {name}");
                    var items = new List<string>();
                    do
                    {
                        var item = Current;
                        if (item.Kind != TokenKind.String)
                        {
                            throw Unexpected($"a string literal ({name} lists hold one or more string literals)");
                        }
                        Advance();
                        items.Add(item.Text!);
                    }
                    while (Accept(TokenKind.Comma));
                    var close = Expect(TokenKind.RightParen, $"',' or ')' in the {name} list");
                    return Node(new InExpression(left, [.. items], not), left.Start, close.End);
                }
        }
    }

    private SelectorExpression ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (Current.Kind is TokenKind.Plus or TokenKind.Minus)
        {
            var op = Advance().Kind == TokenKind.Plus ? ArithmeticOperator.Add : ArithmeticOperator.Subtract;
            var right = ParseMultiplicative();
            left = Node(new ArithmeticExpression(left, right, op, ArithmeticType(left, right, op)), left.Start, right.End);
        }
        return left;
    }

    private SelectorExpression ParseMultiplicative()
    {
        var left = ParseUnary();
        while (Current.Kind is TokenKind.Star or TokenKind.Slash or TokenKind.Percent)
        {
            var op = Advance().Kind switch
            {
                TokenKind.Star => ArithmeticOperator.Multiply,
                TokenKind.Slash => ArithmeticOperator.Divide,
                _ => ArithmeticOperator.Modulo,
            };
            var right = ParseUnary();
            left = Node(new ArithmeticExpression(left, right, op, ArithmeticType(left, right, op)), left.Start, right.End);
        }
        return left;
    }

    private SelectorExpression ParseUnary()
    {
        var sign = Current;
        if (sign.Kind is not (TokenKind.Minus or TokenKind.Plus))
        {
            return ParsePrimary();
        }
        Advance();
        bool negate = sign.Kind == TokenKind.Minus;
        var literal = Current;
        if (negate && literal.Kind == TokenKind.Exact)
        {
            // Folded here so that -9223372036854775808 (whose magnitude is no long) is accepted.
            Advance();
            return Node(new ConstantExpression(SelectorValue.FromExact(literal.Overflow ? long.MinValue : -literal.ExactValue)), sign.Start, literal.End);
        }
        Enter(sign);
        var operand = ParseUnary();
        Exit();
        if ((operand.Type & (SelectorType.Numeric | SelectorType.Null)) == 0)
        {
            throw Error(operand.Start, $"{Quote(operand)} is {TypeName(operand.Type)}; unary '{(negate ? '-' : '+')}' needs a number");
        }
        if (!negate)
        {
            return operand;
        }
        if (operand is ConstantExpression { Value: var value } && value.IsNumeric)
        {
            var folded = value.Kind == ValueKind.Exact ? SelectorValue.FromExact(unchecked(-value.ExactValue)) : SelectorValue.FromApproximate(-value.ApproximateValue);
            return Node(new ConstantExpression(folded), sign.Start, operand.End);
        }
        return Node(new NegateExpression(operand), sign.Start, operand.End);
    }

    private SelectorExpression ParsePrimary()
    {
        var t = Current;
        switch (t.Kind)
        {
            case TokenKind.Exact:
                if (t.Overflow)
                {
                    throw Error(t.Start, $"integer literal {_text[t.Start..t.End]} is out of range (a long holds at most {long.MaxValue})");
                }
                Advance();
                return Node(new ConstantExpression(SelectorValue.FromExact(t.ExactValue)), t.Start, t.End);
            case TokenKind.Approximate:
                Advance();
                return Node(new ConstantExpression(SelectorValue.FromApproximate(t.ApproximateValue)), t.Start, t.End);
            case TokenKind.String:
                Advance();
                return Node(new ConstantExpression(SelectorValue.FromString(t.Text!)), t.Start, t.End);
            case TokenKind.True:
            case TokenKind.False:
                Advance();
                return Node(new ConstantExpression(SelectorValue.FromBoolean(t.Kind == TokenKind.True)), t.Start, t.End);
            case TokenKind.Null:
                Advance();
                return Node(new ConstantExpression(SelectorValue.Null), t.Start, t.End);
            case TokenKind.Identifier:
                Advance();
                return Node(HeaderExpression.Create(t.Text!), t.Start, t.End);
            case TokenKind.LeftParen:
                {
                    Advance();
                    Enter(t);
                    var inner = ParseOr();
                    Exit();
                    if (Current.Kind != TokenKind.RightParen)
                    {
                        throw Unexpected($"')' to close the '(' at column {t.Start + 1}");
                    }
                    Advance();
                    return inner;
                }
            default:
                throw Error(t.Start, $"missing operand: expected {OperandExpected}, found {Describe(t)}");
        }
    }

    // --- type checks -------------------------------------------------------------------------

    private SelectorExpression RequireCondition(SelectorExpression e, string context)
    {
        if ((e.Type & (SelectorType.Boolean | SelectorType.Null)) == 0)
        {
            throw Error(e.Start, $"{Quote(e)} is {TypeName(e.Type)}, not a condition; {context} needs a condition (a comparison, TRUE, FALSE or a boolean property)");
        }
        return e;
    }

    /// <summary>Operands of &lt;, &lt;=, &gt;, &gt;= and BETWEEN: numbers only (JMS orders neither strings nor booleans).</summary>
    private void RequireOrderable(SelectorExpression e, string op)
    {
        if (e.Type == SelectorType.Null)
        {
            throw Error(e.Start, $"NULL cannot be used with {op}; use IS NULL or IS NOT NULL");
        }
        if ((e.Type & SelectorType.Numeric) == 0)
        {
            throw Error(e.Start, $"{Quote(e)} is {TypeName(e.Type)}; only numbers can be used with {op}");
        }
    }

    private void CheckEquality(SelectorExpression left, SelectorExpression right, Token op)
    {
        string symbol = op.Kind == TokenKind.Equal ? "'='" : "'<>'";
        if (left.Type == SelectorType.Null || right.Type == SelectorType.Null)
        {
            throw Error(op.Start, $"NULL cannot be compared with {symbol}; use IS NULL or IS NOT NULL");
        }
        if ((left.Type & right.Type & ~SelectorType.Null) == 0)
        {
            throw Error(op.Start, $"cannot compare {Quote(left)} ({TypeName(left.Type)}) with {Quote(right)} ({TypeName(right.Type)}) using {symbol}");
        }
    }

    private SelectorType ArithmeticType(SelectorExpression left, SelectorExpression right, ArithmeticOperator op)
    {
        if (op == ArithmeticOperator.Add && (left.Type & SelectorType.String) != 0)
        {
            // ActiveMQ's '+' concatenates when the left operand is a string.
            return left.Type == SelectorType.String ? SelectorType.String : SelectorType.Numeric | SelectorType.String;
        }
        string symbol = $"'{ArithmeticExpression.Symbol(op)}'";
        foreach (var operand in (ReadOnlySpan<SelectorExpression>)[left, right])
        {
            if ((operand.Type & (SelectorType.Numeric | SelectorType.Null)) == 0)
            {
                throw Error(operand.Start, $"{Quote(operand)} is {TypeName(operand.Type)}; arithmetic {symbol} needs numbers");
            }
        }
        return SelectorType.Numeric;
    }

    private static string TypeName(SelectorType type) => type switch
    {
        SelectorType.Null => "NULL",
        SelectorType.Boolean => "a condition",
        SelectorType.Numeric => "a number",
        SelectorType.String => "a string",
        SelectorType.Numeric | SelectorType.String => "a number or string",
        _ => "a value",
    };

    // --- tokens ------------------------------------------------------------------------------

    private Token Advance()
    {
        var t = _tokens[_index];
        if (t.Kind != TokenKind.End)
        {
            _index++;
        }
        return t;
    }

    private bool Accept(TokenKind kind)
    {
        if (Current.Kind != kind)
        {
            return false;
        }
        _index++;
        return true;
    }

    private Token Expect(TokenKind kind, string expected)
    {
        if (Current.Kind != kind)
        {
            throw Unexpected(expected);
        }
        return Advance();
    }

    private void Enter(Token at)
    {
        if (++_nesting > MaxNesting)
        {
            throw Error(at.Start, $"the selector nests parentheses, NOT or signs more than {MaxNesting} deep");
        }
    }

    private void Exit() => _nesting--;

    private SelectorExpression Node(SelectorExpression node, int start, int end)
    {
        node.Start = start;
        node.End = end;
        if (node.Depth > MaxDepth)
        {
            throw Error(start, $"the selector's expression is more than {MaxDepth} levels deep");
        }
        return node;
    }

    private BrokerException Unexpected(string expected) =>
        Error(Current.Start, $"expected {expected}, found {Describe(Current)}");

    private BrokerException Error(int position, string message) => SelectorErrors.At(_text, position, message);

    private string Describe(Token t) => t.Kind switch
    {
        TokenKind.End => "the end of the selector",
        TokenKind.Identifier => $"identifier '{t.Text}'",
        TokenKind.String => $"string {Slice(t.Start, t.End)}",
        TokenKind.Exact or TokenKind.Approximate => $"number {Slice(t.Start, t.End)}",
        >= TokenKind.And and <= TokenKind.False => $"keyword {Slice(t.Start, t.End).ToUpperInvariant()}",
        _ => $"'{Slice(t.Start, t.End)}'",
    };

    private string Quote(SelectorExpression e) => $"`{Slice(e.Start, e.End)}`";

    private string Slice(int start, int end)
    {
        const int MaxLength = 60;
        return end - start <= MaxLength ? _text[start..end] : string.Concat(_text.AsSpan(start, MaxLength), "...");
    }
}
