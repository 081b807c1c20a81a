using Ferry.Broker;
using Ferry.Broker.Selectors;
using Ferry.Protocol.OpenWire;

namespace Ferry.Tests.Selectors;

/// <summary>How selectors parse: precedence, and the InvalidSelector errors for bad ones.</summary>
public sealed class SelectorParsingTests
{
    [Theory]
    [InlineData("a = 1 OR b = 2 AND c = 3", "((a = 1) OR ((b = 2) AND (c = 3)))")]
    [InlineData("a = 1 AND b = 2 OR c = 3", "(((a = 1) AND (b = 2)) OR (c = 3))")]
    [InlineData("NOT a = 1 AND b = 2", "((NOT (a = 1)) AND (b = 2))")]
    [InlineData("NOT a LIKE 'x%'", "(NOT (a LIKE 'x%'))")]
    [InlineData("NOT NOT a", "(NOT (NOT a))")]
    [InlineData("a OR b OR c", "(a OR b OR c)")]
    [InlineData("a AND b AND c", "(a AND b AND c)")]
    [InlineData("(a OR b) AND c", "((a OR b) AND c)")]
    [InlineData("a + b * c = d", "((a + (b * c)) = d)")]
    [InlineData("(a + b) * c = d", "(((a + b) * c) = d)")]
    [InlineData("a - b - c > 0", "(((a - b) - c) > 0)")]
    [InlineData("a / b % c < 1", "(((a / b) % c) < 1)")]
    [InlineData("-a * b < 1", "(((-a) * b) < 1)")]
    [InlineData("-5 = a", "(-5 = a)")]
    [InlineData("-(5) = a", "(-5 = a)")]
    [InlineData("- -5 = a", "(5 = a)")]
    [InlineData("+a > 1", "(a > 1)")]
    [InlineData("a > 1 = TRUE", "((a > 1) = TRUE)")]
    [InlineData("a = b > c", "(a = (b > c))")]
    [InlineData("a BETWEEN 1 AND 2 AND b", "((a BETWEEN 1 AND 2) AND b)")]
    [InlineData("a NOT BETWEEN 1 + 1 AND 2 * 3", "(a NOT BETWEEN (1 + 1) AND (2 * 3))")]
    [InlineData("a IS NULL OR b IS NOT NULL", "((a IS NULL) OR (b IS NOT NULL))")]
    [InlineData("a NOT LIKE 'x%' ESCAPE '!'", "(a NOT LIKE 'x%' ESCAPE '!')")]
    [InlineData("x IN ('a', 'b''c')", "(x IN ('a', 'b''c'))")]
    [InlineData("x NOT IN ('a')", "(x NOT IN ('a'))")]
    [InlineData("a = 1 -- comment\n AND b = 2", "((a = 1) AND (b = 2))")]
    [InlineData("a /* = 2 */ = 1", "(a = 1)")]
    [InlineData("a=1AND b<>'x'", "((a = 1) AND (b <> 'x'))")] // a number may run into a keyword
    [InlineData("a=1.5or b=0x1F and c=7LAND d", "((a = 1.5) OR ((b = 31) AND (c = 7) AND d))")]
    [InlineData("\t a\r\n=\f1 ", "(a = 1)")]
    [InlineData("$a_1 = _b$", "($a_1 = _b$)")]
    [InlineData("größe = 1", "(größe = 1)")]
    [InlineData("x = 0x1F AND y = 017 AND z = 12L", "((x = 31) AND (y = 15) AND (z = 12))")]
    [InlineData("x = 1.5 AND y = .5E1", "((x = 1.5) AND (y = 5))")]
    public void Precedence_and_associativity(string selector, string parsed) =>
        Assert.Equal(parsed, MessageSelector.Parse(selector).ParsedForm);

    [Fact]
    public void Text_is_kept_as_written()
    {
        var selector = MessageSelector.Parse("  color = 'red' ");
        Assert.Equal("  color = 'red' ", selector.Text);
        Assert.Equal("  color = 'red' ", selector.ToString());
    }

    [Theory]
    [InlineData("name = 'James", "unterminated string literal", 8)]
    [InlineData("'", "unterminated string literal", 1)]
    [InlineData("name = 'it''s", "unterminated string literal", 8)]
    [InlineData("name =", "missing operand", 7)]
    [InlineData("name = 'x' AND", "missing operand", 15)]
    [InlineData("= 'x'", "missing operand", 1)]
    [InlineData("=TEST 'test'", "missing operand", 1)]
    [InlineData("NOT", "missing operand", 4)]
    [InlineData("a AND AND b", "missing operand", 7)]
    [InlineData("a = ()", "missing operand", 6)]
    [InlineData("name # 'x'", "unexpected character '#'", 6)]
    [InlineData("name = 'x' ; DROP", "unexpected character ';'", 12)]
    [InlineData("name = 'a' /* open", "unterminated comment", 12)]
    [InlineData("name LIKE 'x' ESCAPE 'ab'", "ESCAPE character must be a single character", 22)]
    [InlineData("name LIKE 'x' ESCAPE ''", "ESCAPE character must be a single character", 22)]
    [InlineData("name LIKE 'x' ESCAPE 5", "one-character string literal after ESCAPE", 22)]
    [InlineData("name LIKE 5", "string literal pattern after LIKE", 11)]
    [InlineData("name NOT LIKE other", "string literal pattern after NOT LIKE", 15)]
    [InlineData("5 LIKE 'x'", "LIKE applies to strings", 1)]
    [InlineData("3+5", "not a condition", 1)]
    [InlineData("TRUE AND 3+5", "not a condition", 10)]
    [InlineData("'yes'", "not a condition", 1)]
    [InlineData("NOT 5", "not a condition", 5)]
    [InlineData("a OR -b", "not a condition", 6)]
    [InlineData("(a + 1) AND b", "not a condition", 2)]
    [InlineData("name = NULL", "use IS NULL", 6)]
    [InlineData("NULL <> name", "use IS NULL", 6)]
    [InlineData("rank > NULL", "use IS NULL", 8)]
    [InlineData("'a' = 1", "cannot compare `'a'` (a string) with `1` (a number)", 5)]
    [InlineData("TRUE = 1", "cannot compare", 6)]
    [InlineData("rank = 'x' + 1 = 2", "cannot compare", 16)]
    [InlineData("-rank = 'x'", "cannot compare", 7)]
    [InlineData("'a' < 'b'", "only numbers can be used with '<'", 1)]
    [InlineData("TRUE > 1", "only numbers can be used with '>'", 1)]
    [InlineData("(a = 1) >= 0", "only numbers can be used with '>='", 2)]
    [InlineData("name BETWEEN 'a' AND 'z'", "only numbers can be used with BETWEEN", 14)]
    [InlineData("rank NOT BETWEEN 1 AND FALSE", "only numbers can be used with NOT BETWEEN", 24)]
    [InlineData("rank BETWEEN 1 OR 2", "AND between the bounds of BETWEEN", 16)]
    [InlineData("(rank + 1) IN ('a')", "not a property name; IN needs an identifier", 2)]
    [InlineData("'x' NOT IN ('a')", "not a property name; NOT IN needs an identifier", 1)]
    [InlineData("name IN ()", "expected a string literal", 10)]
    [InlineData("name IN (1, 2)", "expected a string literal", 10)]
    [InlineData("name IN ('a' 'b')", "expected ',' or ')' in the IN list", 14)]
    [InlineData("name IN 'a'", "expected '(' after IN", 9)]
    [InlineData("(name = 'a'", "expected ')' to close the '(' at column 1", 12)]
    [InlineData("name = 'a')", "')' without a matching '('", 11)]
    [InlineData("a b", "expected an operator, AND, OR or the end of the selector, found identifier 'b'", 3)]
    [InlineData("name != 'a'", "use '<>'", 6)]
    [InlineData("name == 'a'", "use '='", 6)]
    [InlineData("name = \"a\"", "single quotes", 8)]
    [InlineData("name IS 'x'", "NULL or NOT NULL after IS", 9)]
    [InlineData("name IS NOT 'x'", "NULL after IS NOT", 13)]
    [InlineData("name NOT = 'x'", "LIKE, BETWEEN or IN after NOT", 10)]
    [InlineData("-'a' = 1", "unary '-' needs a number", 2)]
    [InlineData("'a' * 2 = 1", "arithmetic '*' needs numbers", 1)]
    [InlineData("2 - TRUE = 1", "arithmetic '-' needs numbers", 5)]
    [InlineData("x = 0x", "hexadecimal literal needs digits", 5)]
    [InlineData("x = 0xFFFFFFFFFFFFFFFF", "out of range", 5)]
    [InlineData("x = 9223372036854775808", "out of range", 5)]
    [InlineData("x = 99999999999999999999", "out of range", 5)]
    [InlineData("x = 089", "invalid digit '8' in octal literal", 5)]
    [InlineData("x = 12abc", "malformed number '12abc'", 5)]
    [InlineData("x = 1e", "malformed number", 5)]
    [InlineData("x = 1.2.3", "malformed number", 5)]
    [InlineData("x = 0x1FL", "malformed number", 5)]
    [InlineData("", "the selector is empty", 1)]
    [InlineData("   ", "the selector is empty", 1)]
    [InlineData("-- only a comment", "the selector is empty", 1)]
    [InlineData("XPATH '//a'", "XPATH selectors are not supported", 1)]
    public void Bad_selectors_are_invalid_with_a_message_saying_where(string selector, string fragment, int column)
    {
        var error = Assert.Throws<BrokerException>(() => MessageSelector.Parse(selector));
        Assert.Equal(JmsErrors.InvalidSelector, error.JavaClass);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.Contains($"(at column {column})", error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"Invalid selector \"{selector}\": ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deeply_nested_parentheses_are_refused_before_the_stack_runs_out()
    {
        string selector = new string('(', 10_000) + "a" + new string(')', 10_000);
        var error = Assert.Throws<BrokerException>(() => MessageSelector.Parse(selector));
        Assert.Equal(JmsErrors.InvalidSelector, error.JavaClass);
        Assert.Contains("more than 100 deep", error.Message, StringComparison.Ordinal);
        Assert.Contains("...", error.Message, StringComparison.Ordinal); // the quoted selector is cut short
    }

    [Fact]
    public void Nesting_within_the_limit_is_fine()
    {
        string selector = new string('(', 90) + "a = 1" + new string(')', 90);
        Assert.True(MessageSelector.Parse(selector).Matches(SelectorTestMessages.WithProperties(new() { ["a"] = 1 })));
    }

    [Fact]
    public void Long_arithmetic_chains_are_refused_but_long_and_or_chains_are_not()
    {
        string sum = "a" + string.Concat(Enumerable.Repeat(" + a", 300)) + " = 1";
        var error = Assert.Throws<BrokerException>(() => MessageSelector.Parse(sum));
        Assert.Contains("levels deep", error.Message, StringComparison.Ordinal);

        string ors = string.Join(" OR ", Enumerable.Range(0, 5_000).Select(i => $"a = {i}"));
        var selector = MessageSelector.Parse(ors);
        Assert.True(selector.Matches(SelectorTestMessages.WithProperties(new() { ["a"] = 4_999 })));
        Assert.False(selector.Matches(SelectorTestMessages.WithProperties(new() { ["a"] = 5_000 })));
    }

    [Fact]
    public void Parse_rejects_null()
    {
        Assert.Throws<ArgumentNullException>(() => MessageSelector.Parse(null!));
    }
}
