namespace Ferry.Protocol.OpenWire.Commands;

public class Response : Command
{
    public int CorrelationId;

    public override byte DataType => DataTypes.Response;
    protected override void DescribeBody(FieldVisitor v)
    {
        v.Int(ref CorrelationId);
        DescribeResult(v);
    }

    protected virtual void DescribeResult(FieldVisitor v) { }
}

public sealed class ExceptionResponse : Response
{
    public BrokerError? Exception;

    public override byte DataType => DataTypes.ExceptionResponse;
    protected override void DescribeResult(FieldVisitor v) => v.Throwable(ref Exception);
}

public sealed class DataResponse : Response
{
    public DataStructure? Data;

    public override byte DataType => DataTypes.DataResponse;
    protected override void DescribeResult(FieldVisitor v) => v.Nested(ref Data);
}

public sealed class DataArrayResponse : Response
{
    public DataStructure?[]? Data;

    public override byte DataType => DataTypes.DataArrayResponse;
    protected override void DescribeResult(FieldVisitor v) => v.Array(ref Data);
}

public sealed class IntegerResponse : Response
{
    public int Result;

    public override byte DataType => DataTypes.IntegerResponse;
    protected override void DescribeResult(FieldVisitor v) => v.Int(ref Result);
}
