using static Ferry.Tests.Selectors.SelectorTestMessages;

namespace Ferry.Tests.Selectors;

/// <summary>What selectors select: JMS 1.1 §3.8.1 semantics over application properties.</summary>
public sealed class SelectorEvaluationTests
{
    [Theory]
    [InlineData("rank = 123", true)]
    [InlineData("rank = 124", false)]
    [InlineData("rank <> 124", true)]
    [InlineData("rank <> 123", false)]
    [InlineData("rank > 100", true)]
    [InlineData("rank > 123", false)]
    [InlineData("rank >= 123", true)]
    [InlineData("rank >= 124", false)]
    [InlineData("rank < 124", true)]
    [InlineData("rank < 123", false)]
    [InlineData("rank <= 123", true)]
    [InlineData("rank <= 122", false)]
    [InlineData("123 = rank", true)]
    [InlineData("100 < rank", true)]
    [InlineData("big > rank", true)]
    public void Numeric_comparisons(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    [Theory]
    [InlineData("byteProp = 123", true)]
    [InlineData("shortProp = 123", true)]
    [InlineData("intProp = 123", true)]
    [InlineData("longProp = 123", true)]
    [InlineData("floatProp = 123", true)]
    [InlineData("doubleProp = 123", true)]
    [InlineData("byteProp = 10", false)]
    [InlineData("floatProp = 123.0", true)]
    [InlineData("doubleProp = 123.0", true)]
    [InlineData("rank = 123.0", true)]
    [InlineData("rank < 123.5", true)]
    [InlineData("rank > 122.99", true)]
    [InlineData("small = 1.5", true)]
    [InlineData("price > 9", true)]
    [InlineData("price < 10", true)]
    [InlineData("price = 9.5", true)]
    [InlineData("big = 5000000000", true)]
    [InlineData("big > 4999999999.5", true)]
    [InlineData("byteProp = shortProp AND shortProp = longProp AND longProp = floatProp AND floatProp = doubleProp", true)]
    public void Numbers_of_every_java_type_compare_by_value(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    [Theory]
    [InlineData("name = 'James'", true)]
    [InlineData("name = 'james'", false)]
    [InlineData("name <> 'Bob'", true)]
    [InlineData("name <> 'James'", false)]
    [InlineData("location = 'London'", true)]
    [InlineData("name = location", false)]
    [InlineData("empty = ''", true)]
    [InlineData("quote = '''In God We Trust'''", true)]
    [InlineData("name = 'Ja''mes'", false)]
    [InlineData("trueProp = TRUE", true)]
    [InlineData("falseProp = FALSE", true)]
    [InlineData("trueProp = falseProp", false)]
    [InlineData("trueProp <> falseProp", true)]
    [InlineData("trueProp", true)]
    [InlineData("falseProp", false)]
    [InlineData("NOT falseProp", true)]
    [InlineData("(rank > 100) = TRUE", true)]
    [InlineData("rank > 100 = FALSE", false)]
    public void Strings_and_booleans_compare_with_equals_and_not_equals(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    [Theory]
    [InlineData("name = rank", "F")]
    [InlineData("rank = name", "F")]
    [InlineData("name <> rank", "T")] // ActiveMQ: <> is NOT (=), and unlike types are unequal
    [InlineData("trueProp = rank", "F")]
    [InlineData("charProp = 'x'", "F")] // a Java char is not a string
    [InlineData("bytesProp = 'x'", "F")]
    [InlineData("name < location", "F")] // strings are not ordered
    [InlineData("trueProp > falseProp", "F")] // nor are booleans
    [InlineData("rank", "F")] // a non-boolean property used as a condition is false
    [InlineData("name", "F")]
    [InlineData("NOT rank", "T")]
    public void Values_of_different_types_are_unequal(string selector, string expected) => Assert.Equal(expected, Evaluate(selector));

    [Theory]
    [InlineData("rank + 2 = 125", true)]
    [InlineData("(rank + 2) = 125", true)]
    [InlineData("125 = (rank + 2)", true)]
    [InlineData("rank + version = 125", true)]
    [InlineData("rank + 2 < 124", false)]
    [InlineData("rank - 2 = 121", true)]
    [InlineData("rank - version = 121", true)]
    [InlineData("rank * 2 = 246", true)]
    [InlineData("rank * version = 246", true)]
    [InlineData("rank / version = 61.5", true)] // division is approximate, as in ActiveMQ
    [InlineData("rank / 3 > 100", false)]
    [InlineData("version / 2 = 1", true)]
    [InlineData("7 / 2 = 3.5", true)]
    [InlineData("rank % 10 = 3", true)]
    [InlineData("-rank = -123", true)]
    [InlineData("- -rank = 123", true)]
    [InlineData("+rank = 123", true)]
    [InlineData("-price < -9", true)]
    [InlineData("2 + 3 * 4 = 14", true)]
    [InlineData("(2 + 3) * 4 = 20", true)]
    [InlineData("10 - 4 - 3 = 3", true)]
    [InlineData("24 / 4 / 2 = 3", true)]
    [InlineData("-2 * 3 = -6", true)]
    [InlineData("price * 2 = 19", true)]
    [InlineData("price + rank = 132.5", true)]
    [InlineData("big * 2 = 10000000000", true)] // 64-bit exact arithmetic
    [InlineData("weight * 1000000000 = 12000000000", true)]
    public void Arithmetic(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    [Theory]
    [InlineData("rank / 0 > 0", "U")]
    [InlineData("rank / 0 < 0", "U")]
    [InlineData("NOT (rank / 0 > 0)", "U")]
    [InlineData("(rank / 0) IS NULL", "T")]
    [InlineData("price / 0.0 IS NULL", "T")]
    [InlineData("rank % 0 IS NULL", "T")]
    [InlineData("missing + 1 IS NULL", "T")]
    [InlineData("missing * 2 = 4", "U")]
    [InlineData("-missing = 1", "U")]
    [InlineData("name * 2 IS NULL", "T")] // a string is not a number: NULL, not an error
    public void Division_by_zero_and_null_operands_give_unknown(string selector, string expected) => Assert.Equal(expected, Evaluate(selector));

    [Theory]
    [InlineData("name + '!' = 'James!'", true)]
    [InlineData("name + rank = 'James123'", true)]
    [InlineData("name + price = 'James9.5'", true)]
    [InlineData("name + trueProp = 'Jamestrue'", true)]
    [InlineData("'x' + 'y' = 'xy'", true)]
    [InlineData("name + missing IS NULL", true)]
    public void Plus_concatenates_a_string_as_activemq_does(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    // JMS 1.1 §3.8.1.2: the truth tables for AND, OR and NOT with unknown.
    [Theory]
    [InlineData("T", "T", "T")]
    [InlineData("T", "F", "F")]
    [InlineData("T", "U", "U")]
    [InlineData("F", "T", "F")]
    [InlineData("F", "F", "F")]
    [InlineData("F", "U", "F")]
    [InlineData("U", "T", "U")]
    [InlineData("U", "F", "F")]
    [InlineData("U", "U", "U")]
    public void And_truth_table(string left, string right, string expected) =>
        Assert.Equal(expected, Evaluate($"{Operand(left)} AND {Operand(right)}"));

    [Theory]
    [InlineData("T", "T", "T")]
    [InlineData("T", "F", "T")]
    [InlineData("T", "U", "T")]
    [InlineData("F", "T", "T")]
    [InlineData("F", "F", "F")]
    [InlineData("F", "U", "U")]
    [InlineData("U", "T", "T")]
    [InlineData("U", "F", "U")]
    [InlineData("U", "U", "U")]
    public void Or_truth_table(string left, string right, string expected) =>
        Assert.Equal(expected, Evaluate($"{Operand(left)} OR {Operand(right)}"));

    [Theory]
    [InlineData("T", "F")]
    [InlineData("F", "T")]
    [InlineData("U", "U")]
    public void Not_truth_table(string operand, string expected) => Assert.Equal(expected, Evaluate($"NOT {Operand(operand)}"));

    [Theory]
    [InlineData("T", "T", "T", "T")]
    [InlineData("T", "U", "F", "F")]
    [InlineData("U", "U", "T", "U")]
    [InlineData("U", "T", "U", "U")]
    [InlineData("F", "U", "U", "F")]
    public void Chains_of_and_keep_three_valued_logic(string a, string b, string c, string expected) =>
        Assert.Equal(expected, Evaluate($"{Operand(a)} AND {Operand(b)} AND {Operand(c)}"));

    [Theory]
    [InlineData("T", "T", "T", "T")]
    [InlineData("F", "U", "F", "U")]
    [InlineData("F", "F", "F", "F")]
    [InlineData("U", "U", "T", "T")]
    public void Chains_of_or_keep_three_valued_logic(string a, string b, string c, string expected) =>
        Assert.Equal(expected, Evaluate($"{Operand(a)} OR {Operand(b)} OR {Operand(c)}"));

    /// <summary>The same truth values spelt as comparisons rather than boolean properties.</summary>
    [Theory]
    [InlineData("rank = 123 AND missing = 1", "U")]
    [InlineData("rank = 124 AND missing = 1", "F")]
    [InlineData("rank = 123 OR missing = 1", "T")]
    [InlineData("rank = 124 OR missing = 1", "U")]
    [InlineData("NOT (missing = 1)", "U")]
    [InlineData("NULL", "U")]
    [InlineData("NOT NULL", "U")]
    [InlineData("TRUE AND NULL", "U")]
    [InlineData("FALSE AND NULL", "F")]
    public void Comparisons_with_unknown_combine_by_the_truth_tables(string selector, string expected) =>
        Assert.Equal(expected, Evaluate(selector));

    [Theory]
    [InlineData("missing = 1")]
    [InlineData("missing <> 1")]
    [InlineData("1 = missing")]
    [InlineData("'x' <> missing")]
    [InlineData("missing = missing")]
    [InlineData("nullProp = 'x'")]
    [InlineData("missing > 1")]
    [InlineData("missing <= 1")]
    [InlineData("1 > missing")]
    [InlineData("missing BETWEEN 1 AND 2")]
    [InlineData("missing NOT BETWEEN 1 AND 2")]
    [InlineData("missing IN ('a')")]
    [InlineData("missing NOT IN ('a')")]
    [InlineData("missing LIKE 'a%'")]
    [InlineData("missing NOT LIKE 'a%'")]
    [InlineData("missing")]
    [InlineData("NOT missing")]
    public void Null_in_any_comparison_is_unknown_and_does_not_match(string selector)
    {
        Assert.Equal("U", Evaluate(selector));
        Assert.False(Matches(selector));
    }

    [Theory]
    [InlineData("missing IS NULL", true)]
    [InlineData("missing IS NOT NULL", false)]
    [InlineData("nullProp IS NULL", true)]
    [InlineData("nullProp IS NOT NULL", false)]
    [InlineData("name IS NULL", false)]
    [InlineData("name IS NOT NULL", true)]
    [InlineData("bytesProp IS NOT NULL", true)]
    [InlineData("(missing = 1) IS NULL", true)]
    [InlineData("(rank = 1) IS NOT NULL", true)]
    [InlineData("NULL IS NULL", true)]
    [InlineData("NOT missing IS NULL", false)]
    public void Is_null_is_never_unknown(string selector, bool expected)
    {
        Assert.Equal(expected ? "T" : "F", Evaluate(selector));
    }

    [Theory]
    [InlineData("rank BETWEEN 100 AND 150", true)]
    [InlineData("rank between 10 and 120", false)]
    [InlineData("rank BETWEEN 123 AND 123", true)]
    [InlineData("rank BETWEEN 150 AND 100", false)]
    [InlineData("rank NOT BETWEEN 100 AND 150", false)]
    [InlineData("rank NOT BETWEEN 124 AND 200", true)]
    [InlineData("rank NOT BETWEEN 1 AND 122", true)]
    [InlineData("rank BETWEEN 122.5 AND 123.5", true)]
    [InlineData("rank BETWEEN 123.01 AND 200", false)]
    [InlineData("price BETWEEN 9 AND 10", true)]
    [InlineData("price BETWEEN 9.5 AND 9.5", true)]
    [InlineData("small BETWEEN 1 AND 2L", true)]
    [InlineData("big BETWEEN 4999999999 AND 5000000001", true)]
    [InlineData("big BETWEEN 0x12A05F1FF AND 5.0E9", true)]
    [InlineData("floatProp BETWEEN rank AND longProp", true)]
    [InlineData("shortProp BETWEEN byteProp AND doubleProp", true)]
    [InlineData("rank + 1 BETWEEN 124 AND 124", true)]
    [InlineData("rank BETWEEN 100 AND 150 AND name = 'James'", true)]
    [InlineData("rank BETWEEN -200 AND -100", false)]
    public void Between_with_mixed_numeric_types(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    [Theory]
    [InlineData("name BETWEEN 1 AND 2", "F")]
    [InlineData("name NOT BETWEEN 1 AND 2", "F")]
    [InlineData("rank BETWEEN missing AND 200", "U")]
    [InlineData("rank BETWEEN missing AND 100", "F")]
    [InlineData("rank NOT BETWEEN missing AND 100", "T")]
    [InlineData("rank NOT BETWEEN missing AND 200", "U")]
    public void Between_is_a_pair_of_comparisons_under_three_valued_logic(string selector, string expected) =>
        Assert.Equal(expected, Evaluate(selector));

    [Theory]
    [InlineData("name IN ('James', 'Bob', 'Gromit')", "T")]
    [InlineData("name IN ('Bob', 'James', 'Gromit')", "T")]
    [InlineData("name IN ('Gromit', 'Bob', 'James')", "T")]
    [InlineData("name IN ('James')", "T")]
    [InlineData("name IN ('Gromit', 'Bob', 'Cheddar')", "F")]
    [InlineData("name IN ('james')", "F")]
    [InlineData("name NOT IN ('Gromit', 'Bob', 'Cheddar')", "T")]
    [InlineData("name NOT IN ('James')", "F")]
    [InlineData("quote IN ('''In God We Trust''', 'x')", "T")]
    [InlineData("empty IN ('')", "T")]
    [InlineData("rank IN ('123')", "U")] // not a string
    [InlineData("rank NOT IN ('123')", "U")]
    [InlineData("missing IN ('a', 'b')", "U")]
    [InlineData("missing NOT IN ('a', 'b')", "U")]
    [InlineData("nullProp NOT IN ('a')", "U")]
    [InlineData("(name) IN ('James')", "T")]
    public void In_lists(string selector, string expected) => Assert.Equal(expected, Evaluate(selector));

    [Theory]
    [InlineData(1, true)]
    [InlineData(8, true)]
    [InlineData(9, true)]
    [InlineData(200, true)]
    [InlineData(200, false)]
    public void Long_in_lists_match_like_short_ones(int size, bool includeName)
    {
        var items = Enumerable.Range(0, size).Select(i => $"'n{i}'").ToList();
        if (includeName)
        {
            items[size / 2] = "'James'";
        }
        string list = string.Join(", ", items);
        Assert.Equal(includeName, Matches($"name IN ({list})"));
        Assert.Equal(!includeName, Matches($"name NOT IN ({list})"));
    }

    [Theory]
    [InlineData("quote LIKE '''In G_d We Trust'''", true)]
    [InlineData("quote LIKE '''In Gd_ We Trust'''", false)]
    [InlineData("quote NOT LIKE '''In G_d We Trust'''", false)]
    [InlineData("quote NOT LIKE '''In Gd_ We Trust'''", true)]
    [InlineData("foo LIKE '%oo'", true)]
    [InlineData("foo LIKE '%ar'", false)]
    [InlineData("foo NOT LIKE '%oo'", false)]
    [InlineData("foo NOT LIKE '%ar'", true)]
    [InlineData("foo LIKE '!_%' ESCAPE '!'", true)]
    [InlineData("quote LIKE '!_%' ESCAPE '!'", false)]
    [InlineData("foo NOT LIKE '!_%' ESCAPE '!'", false)]
    [InlineData("quote NOT LIKE '!_%' ESCAPE '!'", true)]
    [InlineData(@"punctuation LIKE '!#$&()*+,-./:;<=>?@[\]^`{|}~'", true)]
    [InlineData("path LIKE 'a.b(c)'", true)]
    [InlineData("path LIKE 'a_b(c)'", true)]
    [InlineData("path LIKE 'a.b%'", true)]
    [InlineData("path LIKE 'a..%'", false)] // '.' is an ordinary character
    [InlineData("path LIKE 'a.b(c'", false)]
    [InlineData("path LIKE '%(c)'", true)]
    [InlineData("name LIKE 'J%s'", true)]
    [InlineData("name LIKE 'j%'", false)]
    [InlineData("name LIKE '%'", true)]
    [InlineData("empty LIKE '%'", true)]
    [InlineData("empty LIKE '_'", false)]
    [InlineData("name LIKE '_____'", true)]
    [InlineData("name LIKE '____'", false)]
    [InlineData("name LIKE '%a%e%'", true)]
    [InlineData("name LIKE '%e%a%'", false)]
    [InlineData("name LIKE 'J%a%m%e%s'", true)]
    [InlineData("name LIKE 'James'", true)]
    [InlineData("name LIKE 'Jame'", false)]
    [InlineData(@"percent LIKE '100\%' ESCAPE '\'", true)]
    [InlineData(@"hundred LIKE '100\%' ESCAPE '\'", false)]
    [InlineData("hundred LIKE '100%'", true)]
    [InlineData("percent LIKE '100!%' ESCAPE '!'", true)]
    [InlineData("bang LIKE 'x!y' ESCAPE '!'", true)] // an escape before an ordinary character stays literal
    [InlineData("bang LIKE 'x!!y' ESCAPE '!'", true)]
    [InlineData("bang LIKE 'x!!%' ESCAPE '!'", true)]
    [InlineData("emoji LIKE 'a_b'", true)] // '_' takes a whole surrogate pair
    [InlineData("emoji LIKE 'a__b'", false)]
    [InlineData("emoji LIKE '%\U0001F600%'", true)]
    [InlineData("lines LIKE 'line1_line2'", true)]
    [InlineData("lines LIKE '%2'", true)]
    [InlineData("rank LIKE '1%'", false)] // not a string
    [InlineData("rank NOT LIKE '1%'", true)]
    public void Like_patterns(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    [Theory]
    [InlineData("name in ('James') and rank between 100 and 200 and not name like 'B%' and location is not null", true)]
    [InlineData("NAME = 'James'", false)]
    [InlineData("Name = 'James'", false)]
    [InlineData("color = 'red'", true)]
    [InlineData("Color = 'blue'", true)]
    [InlineData("color = 'blue'", false)]
    [InlineData("trueProp = tRuE AND falseProp = False", true)]
    [InlineData("name Is Not Null aNd rank NoT BeTwEeN 1 aNd 2", true)]
    public void Keywords_ignore_case_but_identifiers_do_not(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    [Theory]
    [InlineData("rank = 0x7B", true)]
    [InlineData("rank = 0X7b", true)]
    [InlineData("rank = 0173", true)] // octal
    [InlineData("rank = 123L", true)]
    [InlineData("rank = 123l", true)]
    [InlineData("0 = 0", true)]
    [InlineData("1.5E2 = 150", true)]
    [InlineData("1.5e2 = 150", true)]
    [InlineData(".5 = 0.5", true)]
    [InlineData("7. = 7", true)]
    [InlineData("1e3 = 1000", true)]
    [InlineData("1.0 < 1.1", true)]
    [InlineData("-1.1 < 1.0", true)]
    [InlineData("1.0E1 < 1.1E1", true)]
    [InlineData("1. < 1.1", true)]
    [InlineData("1.E1 < 1.1E1", true)]
    [InlineData(".1E1 < .5E1", true)]
    [InlineData("-.5 < .1", true)]
    [InlineData("4E10 < 5E10", true)]
    [InlineData("4E+10 < 5E+10", true)]
    [InlineData("4E-10 < 5E-10", true)]
    [InlineData("-9223372036854775808 < 0", true)]
    [InlineData("9223372036854775807 > 0", true)]
    [InlineData("0x7FFFFFFFFFFFFFFF = 9223372036854775807", true)]
    [InlineData("'' = ''", true)]
    [InlineData("'it''s' = 'it''s'", true)]
    [InlineData("TRUE", true)]
    [InlineData("FALSE", false)]
    [InlineData("NOT FALSE", true)]
    [InlineData("rank = 123 -- trailing comment", true)]
    [InlineData("rank /* block */ = 123", true)]
    public void Literals(string selector, bool expected) => Assert.Equal(expected, Matches(selector));

    /// <summary>T, F and U spelt as a true property, a false one and a missing one.</summary>
    private static string Operand(string truth) => truth switch
    {
        "T" => "trueProp",
        "F" => "falseProp",
        _ => "missing",
    };

    [Fact]
    public void A_message_without_properties_has_every_property_null()
    {
        var message = new Ferry.Protocol.OpenWire.Commands.Message(Ferry.Protocol.OpenWire.DataTypes.TextMessage);
        Assert.True(Matches("color IS NULL", message));
        Assert.False(Matches("color = 'red'", message));
        Assert.False(Matches("color <> 'red'", message));
    }
}
