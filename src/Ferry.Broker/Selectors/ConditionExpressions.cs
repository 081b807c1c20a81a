using System.Text;

namespace Ferry.Broker.Selectors;

internal sealed class NotExpression : ConditionExpression
{
    private readonly SelectorExpression _operand;

    public NotExpression(SelectorExpression operand) : base(DepthOf(operand)) => _operand = operand;

    public override Tri EvaluateCondition(ISelectorContext context) => TriLogic.Not(_operand.EvaluateCondition(context));

    public override string ToString() => $"(NOT {_operand})";
}

/// <summary>AND over any number of operands (a chain of ANDs is one node): false wins over unknown.</summary>
internal sealed class AndExpression : ConditionExpression
{
    private readonly SelectorExpression[] _operands;

    public AndExpression(SelectorExpression[] operands) : base(MaxDepth(operands) + 1) => _operands = operands;

    public override Tri EvaluateCondition(ISelectorContext context)
    {
        var result = Tri.True;
        foreach (var operand in _operands)
        {
            var value = operand.EvaluateCondition(context);
            if (value == Tri.False)
            {
                return Tri.False;
            }
            if (value == Tri.Unknown)
            {
                result = Tri.Unknown;
            }
        }
        return result;
    }

    public override string ToString() => Join(_operands, " AND ");

    internal static int MaxDepth(SelectorExpression[] operands)
    {
        int depth = 0;
        foreach (var operand in operands)
        {
            depth = Math.Max(depth, operand.Depth);
        }
        return depth;
    }

    internal static string Join(SelectorExpression[] operands, string separator)
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < operands.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(separator);
            }
            sb.Append(operands[i]);
        }
        return sb.Append(')').ToString();
    }
}

/// <summary>OR over any number of operands: true wins over unknown.</summary>
internal sealed class OrExpression : ConditionExpression
{
    private readonly SelectorExpression[] _operands;

    public OrExpression(SelectorExpression[] operands) : base(AndExpression.MaxDepth(operands) + 1) => _operands = operands;

    public override Tri EvaluateCondition(ISelectorContext context)
    {
        var result = Tri.False;
        foreach (var operand in _operands)
        {
            var value = operand.EvaluateCondition(context);
            if (value == Tri.True)
            {
                return Tri.True;
            }
            if (value == Tri.Unknown)
            {
                result = Tri.Unknown;
            }
        }
        return result;
    }

    public override string ToString() => AndExpression.Join(_operands, " OR ");
}

/// <summary>= and &lt;&gt;: unknown if either side is NULL; values of different types are unequal.</summary>
internal sealed class EqualityExpression : ConditionExpression
{
    private readonly SelectorExpression _left;
    private readonly SelectorExpression _right;
    private readonly bool _notEqual;

    public EqualityExpression(SelectorExpression left, SelectorExpression right, bool notEqual) : base(DepthOf(left, right))
    {
        _left = left;
        _right = right;
        _notEqual = notEqual;
    }

    public override Tri EvaluateCondition(ISelectorContext context)
    {
        var left = _left.Evaluate(context);
        if (left.IsNull)
        {
            return Tri.Unknown;
        }
        var right = _right.Evaluate(context);
        if (right.IsNull)
        {
            return Tri.Unknown;
        }
        if (context.ConvertStringExpressions)
        {
            (left, right) = (left.AsNumberAgainst(right), right.AsNumberAgainst(left));
        }
        return SelectorValue.AreEqual(left, right) != _notEqual ? Tri.True : Tri.False;
    }

    public override string ToString() => $"({_left} {(_notEqual ? "<>" : "=")} {_right})";
}

/// <summary>&lt;, &lt;=, &gt;, &gt;= on numbers.</summary>
internal sealed class RelationalExpression : ConditionExpression
{
    private readonly SelectorExpression _left;
    private readonly SelectorExpression _right;
    private readonly RelationalOperator _op;

    public RelationalExpression(SelectorExpression left, SelectorExpression right, RelationalOperator op) : base(DepthOf(left, right))
    {
        _left = left;
        _right = right;
        _op = op;
    }

    public override Tri EvaluateCondition(ISelectorContext context)
    {
        var left = _left.Evaluate(context);
        if (left.IsNull)
        {
            return Tri.Unknown;
        }
        var right = _right.Evaluate(context);
        if (context.ConvertStringExpressions)
        {
            (left, right) = (left.AsNumberAgainst(right), right.AsNumberAgainst(left));
        }
        return SelectorValue.Compare(left, right, _op);
    }

    public override string ToString() => $"({_left} {Symbol(_op)} {_right})";

    internal static string Symbol(RelationalOperator op) => op switch
    {
        RelationalOperator.Less => "<",
        RelationalOperator.LessOrEqual => "<=",
        RelationalOperator.Greater => ">",
        _ => ">=",
    };
}

/// <summary>
/// x BETWEEN a AND b is (x &gt;= a AND x &lt;= b); x NOT BETWEEN a AND b is (x &lt; a OR x &gt; b),
/// with x evaluated once.
/// </summary>
internal sealed class BetweenExpression : ConditionExpression
{
    private readonly SelectorExpression _value;
    private readonly SelectorExpression _low;
    private readonly SelectorExpression _high;
    private readonly bool _not;

    public BetweenExpression(SelectorExpression value, SelectorExpression low, SelectorExpression high, bool not)
        : base(Math.Max(value.Depth, Math.Max(low.Depth, high.Depth)) + 1)
    {
        _value = value;
        _low = low;
        _high = high;
        _not = not;
    }

    public override Tri EvaluateCondition(ISelectorContext context)
    {
        var value = _value.Evaluate(context);
        if (value.IsNull)
        {
            return Tri.Unknown;
        }
        var low = _low.Evaluate(context);
        var high = _high.Evaluate(context);
        return _not
            ? TriLogic.Or(SelectorValue.Compare(value, low, RelationalOperator.Less), SelectorValue.Compare(value, high, RelationalOperator.Greater))
            : TriLogic.And(SelectorValue.Compare(value, low, RelationalOperator.GreaterOrEqual), SelectorValue.Compare(value, high, RelationalOperator.LessOrEqual));
    }

    public override string ToString() => $"({_value} {(_not ? "NOT BETWEEN" : "BETWEEN")} {_low} AND {_high})";
}

/// <summary>
/// identifier [NOT] IN ('a', 'b', ...): unknown when the identifier is NULL or not a string (as in
/// ActiveMQ), so NOT IN does not match a message without the property.
/// </summary>
internal sealed class InExpression : ConditionExpression
{
    /// <summary>Above this many items a hash set beats a linear scan of ordinal compares.</summary>
    private const int LinearScanLimit = 8;

    private readonly SelectorExpression _operand;
    private readonly string[] _items;
    private readonly HashSet<string>? _set;
    private readonly bool _not;

    public InExpression(SelectorExpression operand, string[] items, bool not) : base(DepthOf(operand))
    {
        _operand = operand;
        _items = items;
        _not = not;
        if (items.Length > LinearScanLimit)
        {
            _set = new HashSet<string>(items, StringComparer.Ordinal);
        }
    }

    public override Tri EvaluateCondition(ISelectorContext context)
    {
        var value = _operand.Evaluate(context);
        if (value.Kind != ValueKind.String)
        {
            return Tri.Unknown;
        }
        return Contains(value.StringValue) != _not ? Tri.True : Tri.False;
    }

    private bool Contains(string value)
    {
        if (_set is not null)
        {
            return _set.Contains(value);
        }
        foreach (var item in _items)
        {
            if (string.Equals(item, value, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    public override string ToString()
    {
        var sb = new StringBuilder("(").Append(_operand).Append(_not ? " NOT IN (" : " IN (");
        for (int i = 0; i < _items.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(SelectorValue.FromString(_items[i]));
        }
        return sb.Append("))").ToString();
    }
}

/// <summary>
/// x [NOT] LIKE 'pattern' [ESCAPE 'c']: unknown when x is NULL; a non-string x does not match (so NOT
/// LIKE is true), as in ActiveMQ.
/// </summary>
internal sealed class LikeExpression : ConditionExpression
{
    private readonly SelectorExpression _operand;
    private readonly LikePattern _pattern;
    private readonly bool _not;

    public LikeExpression(SelectorExpression operand, LikePattern pattern, bool not) : base(DepthOf(operand))
    {
        _operand = operand;
        _pattern = pattern;
        _not = not;
    }

    public override Tri EvaluateCondition(ISelectorContext context)
    {
        var value = _operand.Evaluate(context);
        if (value.IsNull)
        {
            return Tri.Unknown;
        }
        bool matches = value.Kind == ValueKind.String && _pattern.IsMatch(value.StringValue);
        return matches != _not ? Tri.True : Tri.False;
    }

    public override string ToString() => $"({_operand} {(_not ? "NOT LIKE" : "LIKE")} {_pattern})";
}

/// <summary>x IS [NOT] NULL: never unknown.</summary>
internal sealed class IsNullExpression : ConditionExpression
{
    private readonly SelectorExpression _operand;
    private readonly bool _not;

    public IsNullExpression(SelectorExpression operand, bool not) : base(DepthOf(operand))
    {
        _operand = operand;
        _not = not;
    }

    public override Tri EvaluateCondition(ISelectorContext context) =>
        _operand.Evaluate(context).IsNull != _not ? Tri.True : Tri.False;

    public override string ToString() => $"({_operand} {(_not ? "IS NOT NULL" : "IS NULL")})";
}
