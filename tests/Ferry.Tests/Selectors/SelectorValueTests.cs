using Ferry.Broker.Selectors;

namespace Ferry.Tests.Selectors;

/// <summary>Value rules below the parser: Java's number formatting for string '+', equality across types.</summary>
public sealed class SelectorValueTests
{
    [Theory]
    [InlineData(9.5, "9.5")]
    [InlineData(123.0, "123.0")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(0.001, "0.001")]
    [InlineData(0.0001, "1.0E-4")]
    [InlineData(1234567.0, "1234567.0")]
    [InlineData(1.0E7, "1.0E7")]
    [InlineData(1.0E10, "1.0E10")]
    [InlineData(1.5E-5, "1.5E-5")]
    [InlineData(-1.25E20, "-1.25E20")]
    [InlineData(0.30000000000000004, "0.30000000000000004")]
    [InlineData(0.0, "0.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    [InlineData(double.MaxValue, "1.7976931348623157E308")]
    public void Doubles_format_as_java_does(double value, string expected) =>
        Assert.Equal(expected, SelectorValue.JavaDoubleToString(value));

    [Fact]
    public void Equality_follows_value_not_representation()
    {
        Assert.True(SelectorValue.AreEqual(SelectorValue.FromExact(3), SelectorValue.FromApproximate(3.0)));
        Assert.True(SelectorValue.AreEqual(SelectorValue.FromObject((sbyte)3), SelectorValue.FromObject(3L)));
        Assert.True(SelectorValue.AreEqual(SelectorValue.FromObject(1.5f), SelectorValue.FromObject(1.5)));
        Assert.False(SelectorValue.AreEqual(SelectorValue.FromObject(1.1f), SelectorValue.FromObject(1.1))); // a float widens exactly
        Assert.False(SelectorValue.AreEqual(SelectorValue.FromString("1"), SelectorValue.FromExact(1)));
        Assert.False(SelectorValue.AreEqual(SelectorValue.True, SelectorValue.FromExact(1)));
        Assert.True(SelectorValue.AreEqual(SelectorValue.FromObject('x'), SelectorValue.FromObject('x')));
    }
}
