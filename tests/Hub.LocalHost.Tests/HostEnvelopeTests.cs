using Hub.Functions.Hosting;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.LocalHost.Tests;

/// <summary>What the local host writes must read back through the handler's decoder exactly as Azure's envelopes do.</summary>
public class HostEnvelopeTests
{
    private static Invocation RoundTrip(JObject envelope)
    {
        // Over the wire: serialized as text, read back without date conversion, as the handler endpoint does.
        var text = envelope.ToString(Formatting.None);
        Assert.True(BindingData.TryParse(text, out var parsed));
        return Invocation.Parse("F", "id", (JObject)parsed);
    }

    [Fact]
    public void ServiceBus_EncodesScalarsTwice_AndHandlerDecodesThem()
    {
        var enqueued = new DateTimeOffset(2026, 5, 1, 12, 30, 15, 123, TimeSpan.Zero);
        var envelope = HostEnvelope.ServiceBus("PullStream", "message", """{"seq":3}""", "mid-1", 4, 99, enqueued, enqueued);

        Assert.Equal("\"{\\\"seq\\\":3}\"", envelope["Data"]!["message"]!.Value<string>()); // the body, JSON-encoded again
        Assert.Equal("4", envelope["Metadata"]!["DeliveryCount"]!.Value<string>());
        Assert.Equal("\"mid-1\"", envelope["Metadata"]!["MessageId"]!.Value<string>());
        Assert.Equal("2026-05-01T12:30:15", envelope["Metadata"]!["EnqueuedTimeUtc"]!.Value<string>()); // no offset, no fraction

        var invocation = RoundTrip(envelope);
        Assert.Equal(3, invocation.ReadObject("message").Value<int>("seq"));
        Assert.Equal(4, invocation.DeliveryCount);
        Assert.Equal("mid-1", invocation.MessageId);
        Assert.Equal(new DateTimeOffset(2026, 5, 1, 12, 30, 15, TimeSpan.Zero), invocation.EnqueuedTimeUtc);
    }

    [Fact]
    public void Queue_CopiesBodyPropertiesIntoMetadata()
    {
        var now = DateTimeOffset.UtcNow;
        var envelope = HostEnvelope.Queue("Ingest", "item", """{"orderId":42,"shop":"a"}""", "id-1", "pop", 2, now, now.AddDays(7), now, now);

        Assert.Equal("42", envelope["Metadata"]!["orderId"]!.Value<string>());
        Assert.Equal("\"a\"", envelope["Metadata"]!["shop"]!.Value<string>());
        var invocation = RoundTrip(envelope);
        Assert.Equal(2, invocation.DeliveryCount);
        Assert.Equal(42, invocation.ReadObject("item").Value<int>("orderId"));
    }

    [Fact]
    public void Timer_CarriesTimerInfo()
    {
        var now = DateTimeOffset.UtcNow;
        var invocation = RoundTrip(HostEnvelope.Timer("ScheduleSync", "timer", null, now.AddMinutes(1), true, now));

        Assert.True(invocation.ReadObject("timer").Value<bool>("IsPastDue"));
        Assert.Equal("ScheduleSync", invocation.Meta("sys")!.Value<string>("MethodName"));
    }

    [Fact]
    public void OutputMessages_Array_IsOneMessagePerElement()
    {
        var messages = HostEnvelope.OutputMessages(JArray.Parse("""[{"a":1},{"a":2}]"""), binary: false);

        Assert.Equal(2, messages.Count);
        Assert.Equal(1, JObject.Parse(messages[0]).Value<int>("a"));
    }

    [Fact]
    public void OutputMessages_StringHoldingAnArray_IsSplitToo()
    {
        Assert.Equal(3, HostEnvelope.OutputMessages(new JValue("""[{"a":1},{"a":2},{"a":3}]"""), binary: false).Count);
    }

    [Fact]
    public void OutputMessages_Object_IsOneMessage()
    {
        var message = Assert.Single(HostEnvelope.OutputMessages(JObject.Parse("""{"retry":1}"""), binary: false));
        Assert.Equal(1, JObject.Parse(message).Value<int>("retry"));
    }

    [Fact]
    public void OutputMessages_StringThatIsValidBase64_IsCorruptedLikeTheHostDoes()
    {
        // "test" is valid base64: the host sends its decoded bytes, not the text. The handler therefore never emits strings.
        var message = Assert.Single(HostEnvelope.OutputMessages(new JValue("test"), binary: false));
        Assert.NotEqual("test", message);
        Assert.Equal("test", Assert.Single(HostEnvelope.OutputMessages(new JValue("test"), binary: true)));
        Assert.Equal("not base64!", Assert.Single(HostEnvelope.OutputMessages(new JValue("not base64!"), binary: false)));
    }
}
