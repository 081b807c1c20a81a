using System.Globalization;
using System.Text;

namespace Ferry.Broker.Selectors;

/// <summary>The truth value of a condition under SQL's three-valued logic: NULL operands make it unknown.</summary>
internal enum Tri : byte
{
    False,
    True,
    Unknown,
}

internal static class TriLogic
{
    public static Tri From(bool value) => value ? Tri.True : Tri.False;

    public static Tri Not(Tri value) => value switch
    {
        Tri.True => Tri.False,
        Tri.False => Tri.True,
        _ => Tri.Unknown,
    };

    public static Tri And(Tri left, Tri right) =>
        left == Tri.False || right == Tri.False ? Tri.False
        : left == Tri.Unknown || right == Tri.Unknown ? Tri.Unknown
        : Tri.True;

    public static Tri Or(Tri left, Tri right) =>
        left == Tri.True || right == Tri.True ? Tri.True
        : left == Tri.Unknown || right == Tri.Unknown ? Tri.Unknown
        : Tri.False;
}

/// <summary>The runtime kind of a value: Java's property types folded into what selectors distinguish.</summary>
internal enum ValueKind : byte
{
    Null,
    Boolean,
    /// <summary>byte, short, int and long: held as a long.</summary>
    Exact,
    /// <summary>float and double: held as a double (floats widen exactly).</summary>
    Approximate,
    String,
    /// <summary>char, byte[], nested maps and lists: only equal to an equal value of the same type.</summary>
    Other,
}

/// <summary>Relational operators on numbers.</summary>
internal enum RelationalOperator : byte
{
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// <summary>
/// A selector value without boxing: numbers and booleans live in <see cref="_bits"/>, strings and other
/// objects in <see cref="_reference"/>. Property values arrive already boxed in the decoded map and are
/// only unwrapped here, so evaluation allocates nothing unless a string is concatenated.
/// </summary>
internal readonly struct SelectorValue
{
    private readonly object? _reference;
    private readonly long _bits;

    private SelectorValue(ValueKind kind, long bits, object? reference)
    {
        Kind = kind;
        _bits = bits;
        _reference = reference;
    }

    public ValueKind Kind { get; }

    public static SelectorValue Null => default;
    public static SelectorValue True { get; } = new(ValueKind.Boolean, 1, null);
    public static SelectorValue False { get; } = new(ValueKind.Boolean, 0, null);

    public bool IsNull => Kind == ValueKind.Null;
    public bool IsNumeric => Kind is ValueKind.Exact or ValueKind.Approximate;
    public bool BooleanValue => _bits != 0;
    public long ExactValue => _bits;
    public double ApproximateValue => BitConverter.Int64BitsToDouble(_bits);
    public double AsDouble => Kind == ValueKind.Exact ? _bits : BitConverter.Int64BitsToDouble(_bits);
    public string StringValue => (string)_reference!;
    public object? OtherValue => _reference;

    /// <summary>
    /// For ActiveMQ's convert_string_expressions mode: a string facing a number becomes a number when
    /// it parses as one (exact if it can be); anything else is returned unchanged.
    /// </summary>
    public SelectorValue AsNumberAgainst(in SelectorValue other)
    {
        if (Kind != ValueKind.String || !other.IsNumeric)
        {
            return this;
        }
        string text = StringValue.Trim();
        if (long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long exact))
        {
            return FromExact(exact);
        }
        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double approximate)
            ? FromApproximate(approximate)
            : this;
    }

    public static SelectorValue FromBoolean(bool value) => value ? True : False;
    public static SelectorValue FromExact(long value) => new(ValueKind.Exact, value, null);
    public static SelectorValue FromApproximate(double value) => new(ValueKind.Approximate, BitConverter.DoubleToInt64Bits(value), null);
    public static SelectorValue FromString(string? value) => value is null ? default : new(ValueKind.String, 0, value);

    public static SelectorValue FromTri(Tri value) => value switch
    {
        Tri.True => True,
        Tri.False => False,
        _ => default,
    };

    /// <summary>Unwraps a decoded property value (Java types as <c>PrimitiveMap</c> gives them).</summary>
    public static SelectorValue FromObject(object? value) => value switch
    {
        null => default,
        string s => new(ValueKind.String, 0, s),
        int i => FromExact(i),
        long l => FromExact(l),
        bool b => FromBoolean(b),
        double d => FromApproximate(d),
        float f => FromApproximate(f),
        short s => FromExact(s),
        sbyte b => FromExact(b),
        byte b => FromExact(b),
        _ => new(ValueKind.Other, 0, value),
    };

    /// <summary>
    /// Equality for = and &lt;&gt; once both sides are known not to be NULL: numbers by value across exact
    /// and approximate, strings ordinally, booleans by value; values of different types are not equal.
    /// </summary>
    public static bool AreEqual(in SelectorValue left, in SelectorValue right)
    {
        if (left.Kind == right.Kind)
        {
            return left.Kind switch
            {
                ValueKind.Exact or ValueKind.Boolean => left._bits == right._bits,
                ValueKind.Approximate => left.ApproximateValue == right.ApproximateValue,
                ValueKind.String => string.Equals((string)left._reference!, (string)right._reference!, StringComparison.Ordinal),
                ValueKind.Other => ReferenceEquals(left._reference, right._reference) || Equals(left._reference, right._reference),
                _ => true,
            };
        }
        return left.IsNumeric && right.IsNumeric && left.AsDouble == right.AsDouble;
    }

    /// <summary>&lt;, &lt;=, &gt;, &gt;= : unknown when either side is NULL, false unless both are numbers.</summary>
    public static Tri Compare(in SelectorValue left, in SelectorValue right, RelationalOperator op)
    {
        if (left.IsNull || right.IsNull)
        {
            return Tri.Unknown;
        }
        if (left.Kind == ValueKind.Exact && right.Kind == ValueKind.Exact)
        {
            long l = left._bits, r = right._bits;
            return TriLogic.From(op switch
            {
                RelationalOperator.Less => l < r,
                RelationalOperator.LessOrEqual => l <= r,
                RelationalOperator.Greater => l > r,
                _ => l >= r,
            });
        }
        if (left.IsNumeric && right.IsNumeric)
        {
            double l = left.AsDouble, r = right.AsDouble;
            return TriLogic.From(op switch
            {
                RelationalOperator.Less => l < r,
                RelationalOperator.LessOrEqual => l <= r,
                RelationalOperator.Greater => l > r,
                _ => l >= r,
            });
        }
        return Tri.False;
    }

    /// <summary>The text Java's String concatenation would give for this value (ActiveMQ's string '+').</summary>
    public string ToJavaString() => Kind switch
    {
        ValueKind.String => (string)_reference!,
        ValueKind.Exact => _bits.ToString(CultureInfo.InvariantCulture),
        ValueKind.Approximate => JavaDoubleToString(ApproximateValue),
        ValueKind.Boolean => _bits != 0 ? "true" : "false",
        ValueKind.Other => _reference?.ToString() ?? "null",
        _ => "null",
    };

    /// <summary>Selector-literal form, for diagnostics.</summary>
    public override string ToString() => Kind switch
    {
        ValueKind.Null => "NULL",
        ValueKind.Boolean => _bits != 0 ? "TRUE" : "FALSE",
        ValueKind.Exact => _bits.ToString(CultureInfo.InvariantCulture),
        ValueKind.Approximate => ApproximateValue.ToString("R", CultureInfo.InvariantCulture),
        ValueKind.String => "'" + ((string)_reference!).Replace("'", "''", StringComparison.Ordinal) + "'",
        _ => _reference?.ToString() ?? "",
    };

    /// <summary>
    /// Java's Double.toString: plain notation with at least one fractional digit for magnitudes in
    /// [1e-3, 1e7), otherwise d.dddE±n; both with the shortest digits that round-trip.
    /// </summary>
    internal static string JavaDoubleToString(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }
        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }
        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }

        // Shortest round-trip digits and the position of the decimal point within them.
        string r = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        int exponent = 0;
        int e = r.IndexOf('E', StringComparison.Ordinal);
        string mantissa = r;
        if (e >= 0)
        {
            exponent = int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            mantissa = r[..e];
        }
        int dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        string digits = dot >= 0 ? string.Concat(mantissa.AsSpan(0, dot), mantissa.AsSpan(dot + 1)) : mantissa;
        int point = (dot >= 0 ? dot : mantissa.Length) + exponent;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
        }
        digits = digits[lead..];
        point -= lead;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
        {
            digits = "0";
        }

        var sb = new StringBuilder(32);
        if (value < 0)
        {
            sb.Append('-');
        }
        double magnitude = Math.Abs(value);
        if (magnitude is >= 1e-3 and < 1e7)
        {
            if (point <= 0)
            {
                sb.Append("0.").Append('0', -point).Append(digits);
            }
            else if (point >= digits.Length)
            {
                sb.Append(digits).Append('0', point - digits.Length).Append(".0");
            }
            else
            {
                sb.Append(digits, 0, point).Append('.').Append(digits, point, digits.Length - point);
            }
        }
        else
        {
            sb.Append(digits[0]).Append('.');
            sb.Append(digits.Length > 1 ? digits.AsSpan(1) : "0");
            sb.Append('E').Append((point - 1).ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
