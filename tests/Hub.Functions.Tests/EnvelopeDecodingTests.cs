using Hub.Functions.Hosting;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

/// <summary>
/// The envelope shapes below are written as the Functions host writes them (custom-handler.md §1.2, the host's
/// own unit test, and payloads captured by KarlGW/azfunc): scalars JSON-encoded twice, offset-less *Utc dates,
/// POCOs as objects, arrays with cardinality many.
/// </summary>
public class EnvelopeDecodingTests
{
    private static Invocation Parse(string json) =>
        Invocation.Parse("F", "id", BindingData.TryParse(json, out var envelope) && envelope is JObject o ? o : throw new ArgumentException("not an object"));

    [Fact]
    public void Parse_TimerEnvelope_ReadsTimerInfoAndSys()
    {
        var invocation = Parse("""
            {"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-01-01T00:00:00+00:00","Next":"2026-01-01T00:01:00+00:00","LastUpdated":"2026-01-01T00:00:00+00:00"},"IsPastDue":false}},
             "Metadata":{"sys":{"MethodName":"ScheduleSync","UtcNow":"2026-01-01T00:00:00.0012345Z","RandGuid":"7f0c3f7e-0000-4000-8000-000000000001"}}}
            """);

        var timer = invocation.ReadObject("timer");
        Assert.False(timer.Value<bool>("IsPastDue"));
        Assert.Equal("2026-01-01T00:01:00+00:00", timer.SelectToken("ScheduleStatus.Next")!.Value<string>());
        Assert.Equal("ScheduleSync", invocation.Meta("sys")!.Value<string>("MethodName"));
        Assert.Equal(1, invocation.DeliveryCount);
    }

    [Fact]
    public void Parse_ServiceBusEnvelope_UndoesDoubleEncoding()
    {
        // Reformatted from the captured example in the reference: numbers as strings, strings with extra quotes.
        var invocation = Parse("""
            {"Data":{"message":"\"{\\\"tenantId\\\":\\\"t1\\\",\\\"seq\\\":4}\""},
             "Metadata":{"DeliveryCount":"2","SequenceNumber":"17","MessageId":"\"4e77a2c1\"","LockToken":"\"4e77a2c1\"",
                         "ContentType":"\"application/json\"","EnqueuedTimeUtc":"2023-10-12T20:13:49","EnqueuedTime":"2023-10-12T20:13:49+00:00",
                         "ApplicationProperties":{},"UserProperties":{},"Client":{"FullyQualifiedNamespace":"x.servicebus.windows.net","IsClosed":false},
                         "sys":{"MethodName":"PullStream"}}}
            """);

        var body = invocation.ReadObject("message");
        Assert.Equal("t1", body.Value<string>("tenantId"));
        Assert.Equal(4, body.Value<int>("seq"));
        Assert.Equal(2, invocation.DeliveryCount);
        Assert.Equal("4e77a2c1", invocation.MessageId);
        Assert.Equal(17, BindingData.ReadInt(invocation.Meta("SequenceNumber")));
        Assert.Equal("application/json", BindingData.ReadString(invocation.Meta("ContentType")));
        Assert.Equal(new DateTimeOffset(2023, 10, 12, 20, 13, 49, TimeSpan.Zero), invocation.EnqueuedTimeUtc);
        Assert.IsType<JObject>(invocation.Meta("Client"));
    }

    [Fact]
    public void Parse_QueueEnvelope_ReadsDequeueCountAndBody()
    {
        var invocation = Parse("""
            {"Data":{"item":"\"{\\\"orderId\\\":42}\""},
             "Metadata":{"DequeueCount":"3","Id":"\"a1b2\"","PopReceipt":"\"AgAAAA==\"","InsertionTime":"2026-03-01T10:00:00+00:00",
                         "ExpirationTime":"2026-03-08T10:00:00+00:00","NextVisibleTime":"2026-03-01T10:10:00+00:00","orderId":"42","sys":{}}}
            """);

        Assert.Equal(42, invocation.ReadObject("item").Value<int>("orderId"));
        Assert.Equal(3, invocation.DeliveryCount);
        Assert.Equal("a1b2", invocation.MessageId);
        Assert.Equal("AgAAAA==", BindingData.ReadString(invocation.Meta("PopReceipt")));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero), invocation.EnqueuedTimeUtc);
    }

    [Fact]
    public void Parse_SingleEncodedBody_AsInTheDocSample_StillReadsObject()
    {
        var invocation = Parse("""{"Data":{"item":"{\"orderId\":7}"},"Metadata":{"DequeueCount":1}}""");

        Assert.Equal(7, invocation.ReadObject("item").Value<int>("orderId"));
        Assert.Equal(1, invocation.DeliveryCount);
    }

    [Fact]
    public void Parse_BinaryBody_DecodesBase64()
    {
        var base64 = Convert.ToBase64String("""{"orderId":9}"""u8.ToArray());
        var invocation = Parse("{\"Data\":{\"item\":\"" + base64 + "\"},\"Metadata\":{}}");

        Assert.Equal(9, invocation.ReadObject("item").Value<int>("orderId"));
    }

    [Fact]
    public void Parse_CardinalityMany_DecodesEveryElement()
    {
        var invocation = Parse("""
            {"Data":{"messages":["\"{\\\"n\\\":1}\"","\"{\\\"n\\\":2}\""]},
             "Metadata":{"DeliveryCountArray":["1","2"],"MessageIdArray":["\"m1\"","\"m2\""],"sys":{}}}
            """);

        var messages = Assert.IsType<JArray>(invocation.Data["messages"]);
        Assert.Equal([1, 2], messages.Select(m => BindingData.ReadObject(m, "m").Value<int>("n")));
        Assert.Equal(["m1", "m2"], ((JArray)invocation.Meta("MessageIdArray")!).Select(BindingData.ReadString));
        Assert.Equal([1, 2], ((JArray)invocation.Meta("DeliveryCountArray")!).Select(t => BindingData.ReadInt(t)!.Value));
    }

    [Fact]
    public void Parse_NonForwardedHttp_ReadsRequestObject()
    {
        var invocation = Parse("""
            {"Data":{"req":{"Url":"http://localhost:7071/api/runs?top=5","Method":"GET","Query":{"top":"5"},
                            "Headers":{"Accept":["application/json"]},"Params":{},"Identities":[],"Body":"{\"a\":1}"}},
             "Metadata":{"top":"\"5\"","sys":{}}}
            """);

        var req = invocation.ReadObject("req");
        Assert.Equal("GET", req.Value<string>("Method"));
        Assert.Equal("5", req.SelectToken("Query.top")!.Value<string>());
        Assert.Equal("{\"a\":1}", req.Value<string>("Body"));
        Assert.Equal("5", BindingData.ReadString(invocation.Meta("top")));
    }

    [Theory]
    [InlineData("\"4\"", "4")]
    [InlineData("\"\\\"abc\\\"\"", "abc")]
    [InlineData("\"true\"", "True")]
    [InlineData("\"plain text, not JSON\"", "plain text, not JSON")]
    [InlineData("\"2023-10-12T20:13:49\"", "2023-10-12T20:13:49")]
    public void Decode_Scalars_LoseTheHostsExtraEncoding(string json, string expected)
    {
        Assert.True(BindingData.TryParse(json, out var raw));
        var decoded = BindingData.Decode(raw);

        Assert.Equal(expected, BindingData.ReadString(decoded));
    }

    [Fact]
    public void Parse_EnvelopeWithoutMetadata_IsAccepted()
    {
        var invocation = Parse("""{"Data":{"item":"\"{}\""}}""");

        Assert.Empty(invocation.ReadObject("item"));
        Assert.Equal(1, invocation.DeliveryCount);
    }

    [Fact]
    public void ReadObject_MissingBinding_ThrowsDecodingError()
    {
        var invocation = Parse("""{"Data":{},"Metadata":{}}""");

        var error = Assert.Throws<InvocationDecodingException>(() => invocation.ReadObject("message"));
        Assert.Contains("message", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadObject_BodyThatIsNotAnObject_ThrowsDecodingError()
    {
        var invocation = Parse("""{"Data":{"message":"\"[1,2]\""},"Metadata":{}}""");

        Assert.Throws<InvocationDecodingException>(() => invocation.ReadObject("message"));
    }

    [Fact]
    public void Parse_DataThatIsNotAnObject_ThrowsDecodingError()
    {
        Assert.Throws<InvocationDecodingException>(() => Parse("""{"Data":[1],"Metadata":{}}"""));
    }
}
