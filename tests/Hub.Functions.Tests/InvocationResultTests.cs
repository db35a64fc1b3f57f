using Hub.Functions.Hosting;
using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Functions.Tests;

public class InvocationResultTests
{
    [Fact]
    public void ToJson_SeveralMessages_WritesOneArrayElementPerMessage()
    {
        var result = new InvocationResult();
        result.Send("pull", new { memberId = "m1" }).Send("pull", new { memberId = "m2" }).Send("other", new JObject { ["retry"] = 1 });
        result.Logs.Add("two pulls");

        var json = result.ToJson();

        var pull = Assert.IsType<JArray>(json["Outputs"]!["pull"]);
        Assert.Equal(["m1", "m2"], pull.Select(m => m.Value<string>("memberId")));
        Assert.All(pull, m => Assert.IsType<JObject>(m)); // objects, never strings the host could base64-decode
        Assert.Equal(1, json["Outputs"]!["other"]![0]!.Value<int>("retry"));
        Assert.Equal("two pulls", json["Logs"]![0]!.Value<string>());
    }

    [Fact]
    public void ToJson_NoOutputs_WritesEmptyOutputs()
    {
        var json = new InvocationResult().ToJson();

        Assert.Empty((JObject)json["Outputs"]!);
        Assert.Null(json["ReturnValue"]);
    }

    [Fact]
    public void ToJson_StringReturnValue_IsRefused()
    {
        var result = new InvocationResult { ReturnValue = new JValue("abcd") };

        Assert.Throws<InvalidOperationException>(() => result.ToJson());
    }
}
