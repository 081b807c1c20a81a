namespace Ferry.Broker.Selectors;

internal enum ArithmeticOperator : byte
{
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
}

/// <summary>
/// Binary arithmetic. NULL in, NULL out. Two exact operands give an exact (64-bit, wrapping) result,
/// any approximate operand an approximate one; / and % always give an approximate result, as in
/// ActiveMQ, and a zero divisor gives NULL (unknown) rather than Infinity or NaN. '+' with a string
/// on the left concatenates, as ActiveMQ does. A non-numeric operand gives NULL.
/// </summary>
internal sealed class ArithmeticExpression : SelectorExpression
{
    private readonly SelectorExpression _left;
    private readonly SelectorExpression _right;
    private readonly ArithmeticOperator _op;

    public ArithmeticExpression(SelectorExpression left, SelectorExpression right, ArithmeticOperator op, SelectorType type)
        : base(type, DepthOf(left, right))
    {
        _left = left;
        _right = right;
        _op = op;
    }

    public override SelectorValue Evaluate(ISelectorContext context)
    {
        var left = _left.Evaluate(context);
        if (left.IsNull)
        {
            return SelectorValue.Null;
        }
        var right = _right.Evaluate(context);
        if (right.IsNull)
        {
            return SelectorValue.Null;
        }
        if (_op == ArithmeticOperator.Add && left.Kind == ValueKind.String)
        {
            return SelectorValue.FromString(string.Concat(left.StringValue, right.ToJavaString()));
        }
        if (!left.IsNumeric || !right.IsNumeric)
        {
            return SelectorValue.Null;
        }
        bool exact = left.Kind == ValueKind.Exact && right.Kind == ValueKind.Exact;
        switch (_op)
        {
            case ArithmeticOperator.Add:
                return exact ? SelectorValue.FromExact(unchecked(left.ExactValue + right.ExactValue)) : SelectorValue.FromApproximate(left.AsDouble + right.AsDouble);
            case ArithmeticOperator.Subtract:
                return exact ? SelectorValue.FromExact(unchecked(left.ExactValue - right.ExactValue)) : SelectorValue.FromApproximate(left.AsDouble - right.AsDouble);
            case ArithmeticOperator.Multiply:
                return exact ? SelectorValue.FromExact(unchecked(left.ExactValue * right.ExactValue)) : SelectorValue.FromApproximate(left.AsDouble * right.AsDouble);
            default:
                double divisor = right.AsDouble;
                if (divisor == 0)
                {
                    return SelectorValue.Null;
                }
                double dividend = left.AsDouble;
                return SelectorValue.FromApproximate(_op == ArithmeticOperator.Divide ? dividend / divisor : dividend % divisor);
        }
    }

    public override string ToString() => $"({_left} {Symbol(_op)} {_right})";

    internal static string Symbol(ArithmeticOperator op) => op switch
    {
        ArithmeticOperator.Add => "+",
        ArithmeticOperator.Subtract => "-",
        ArithmeticOperator.Multiply => "*",
        ArithmeticOperator.Divide => "/",
        _ => "%",
    };
}

/// <summary>Unary minus; NULL or a non-number gives NULL.</summary>
internal sealed class NegateExpression : SelectorExpression
{
    private readonly SelectorExpression _operand;

    public NegateExpression(SelectorExpression operand) : base(SelectorType.Numeric, DepthOf(operand)) => _operand = operand;

    public override SelectorValue Evaluate(ISelectorContext context)
    {
        var value = _operand.Evaluate(context);
        return value.Kind switch
        {
            ValueKind.Exact => SelectorValue.FromExact(unchecked(-value.ExactValue)),
            ValueKind.Approximate => SelectorValue.FromApproximate(-value.ApproximateValue),
            _ => SelectorValue.Null,
        };
    }

    public override string ToString() => $"(-{_operand})";
}
