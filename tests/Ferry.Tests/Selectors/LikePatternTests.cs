using System.Diagnostics;
using Ferry.Broker.Selectors;

namespace Ferry.Tests.Selectors;

/// <summary>The LIKE matcher on its own: '%' any run, '_' one character, ActiveMQ's escape rules.</summary>
public sealed class LikePatternTests
{
    [Theory]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("%", "", true)]
    [InlineData("%%", "abc", true)]
    [InlineData("_", "", false)]
    [InlineData("_", "a", true)]
    [InlineData("_", "ab", false)]
    [InlineData("a%", "a", true)]
    [InlineData("a%", "ba", false)]
    [InlineData("%a", "ba", true)]
    [InlineData("%a", "ab", false)]
    [InlineData("a%a", "a", false)]
    [InlineData("a%a", "aa", true)]
    [InlineData("a%a", "aXa", true)]
    [InlineData("a%b%c", "abc", true)]
    [InlineData("a%b%c", "acb", false)]
    [InlineData("a%b%c", "aXbXbXc", true)]
    [InlineData("%b_d%", "abcde", true)]
    [InlineData("%b_d%", "abde", false)]
    [InlineData("%ab%ab%", "abab", true)]
    [InlineData("%ab%ab%", "aba", false)]
    [InlineData("_%_", "ab", true)]
    [InlineData("_%_", "a", false)]
    [InlineData("%_%", "", false)]
    [InlineData("%__", "ab", true)]
    [InlineData("__%", "a", false)]
    [InlineData("%a_c", "xxabcabc", true)]
    [InlineData("%a_c", "xxabcabd", false)]
    [InlineData("a.c", "abc", false)]
    [InlineData("a.c", "a.c", true)]
    [InlineData("a*c", "aXXc", false)]
    [InlineData("(a|b)", "(a|b)", true)]
    [InlineData("(a|b)", "a", false)]
    [InlineData("[ab]", "a", false)]
    [InlineData("^a$", "^a$", true)]
    [InlineData(@"a\d", @"a\d", true)]
    [InlineData(@"a\d", "a1", false)]
    [InlineData("a+?", "a+?", true)]
    [InlineData("{1}", "{1}", true)]
    [InlineData("ABC", "abc", false)]
    public void Wildcards_without_escape(string pattern, string text, bool expected) =>
        Assert.Equal(expected, LikePattern.Compile(pattern, null).IsMatch(text));

    [Theory]
    [InlineData(@"\%", '\\', "%", true)]
    [InlineData(@"\%", '\\', "x", false)]
    [InlineData(@"\_", '\\', "_", true)]
    [InlineData(@"\_", '\\', "x", false)]
    [InlineData(@"\\", '\\', @"\", true)]
    [InlineData(@"a\%%", '\\', "a%bc", true)]
    [InlineData(@"a\%%", '\\', "abc", false)]
    [InlineData(@"%\%", '\\', "100%", true)]
    [InlineData(@"%\_%", '\\', "snake_case", true)]
    [InlineData(@"%\_%", '\\', "camelCase", false)]
    [InlineData(@"a\b", '\\', @"a\b", true)] // escape before an ordinary character is literal
    [InlineData(@"a\", '\\', @"a\", true)]   // and so is a trailing one
    [InlineData("x%%", '%', "x%", true)]     // '%' escaping itself
    [InlineData("x%%", '%', "xy", false)]
    [InlineData("x%_", '%', "x_", true)]
    [InlineData("x%a", '%', "xyya", true)]   // '%' before an ordinary character is still a wildcard
    [InlineData("$_$%", '$', "_%", true)]
    public void Escapes(string pattern, char escape, string text, bool expected) =>
        Assert.Equal(expected, LikePattern.Compile(pattern, escape).IsMatch(text));

    [Theory]
    [InlineData("_", "\U0001F600", true)]
    [InlineData("__", "\U0001F600", false)]
    [InlineData("%_", "ab\U0001F600", true)]
    [InlineData("%\U0001F600", "ab\U0001F600", true)]
    [InlineData("_%_", "\U0001F600\U0001F601", true)]
    [InlineData("\U0001F600_", "\U0001F600\U0001F601", true)]
    [InlineData("%_b", "\U0001F600b", true)]
    [InlineData("%_\U0001F601", "\U0001F600\U0001F601", true)]
    public void Underscore_matches_a_whole_supplementary_character(string pattern, string text, bool expected) =>
        Assert.Equal(expected, LikePattern.Compile(pattern, null).IsMatch(text));

    [Fact]
    public void Pathological_patterns_run_in_polynomial_time()
    {
        string text = new string('a', 20_000);
        var pattern = LikePattern.Compile("%a%a%a%a%a%a%a%a%a%a%b", null);
        var watch = Stopwatch.StartNew();
        Assert.False(pattern.IsMatch(text));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
    }
}
