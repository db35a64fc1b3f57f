using Newtonsoft.Json.Linq;
using Xunit;

namespace Hub.Infra.Tests;

public class InfraTests
{
    private static readonly Lazy<JObject> Compiled = new(() =>
    {
        var (exit, output) = Repo.Run(Repo.Bicep, "build infra/main.bicep --stdout");
        Assert.True(exit == 0, output);
        return JObject.Parse(output[output.IndexOf('{', StringComparison.Ordinal)..]);
    });

    public static TheoryData<string> BicepFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(Repo.Root, "infra"), "*.bicep", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(Repo.Root, file));
        }

        return data;
    }

    private static IEnumerable<(string, JObject)> RepositoryFunctions() =>
        Directory.GetDirectories(Path.Combine(Repo.Root, "functions"))
            .Where(d => File.Exists(Path.Combine(d, "function.json")))
            .Select(d => (Path.GetFileName(d), JObject.Parse(File.ReadAllText(Path.Combine(d, "function.json")))));

    [Theory]
    [MemberData(nameof(BicepFiles))]
    public void Bicep_EveryFile_CompilesAndLintsWithoutAWarning(string file)
    {
        var (buildExit, buildOutput) = Repo.Run(Repo.Bicep, $"build {file} --stdout");
        var (lintExit, lintOutput) = Repo.Run(Repo.Bicep, $"lint {file}");

        Assert.True(buildExit == 0, buildOutput);
        Assert.True(lintExit == 0 && lintOutput.Trim().Length == 0, $"bicep lint {file}:\n{lintOutput}");
    }

    [Fact]
    public void Templates_CoverEveryFunctionBinding()
    {
        var problems = BindingCoverage.Check(RepositoryFunctions(), Compiled.Value);

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Templates_CreateEveryTableTheHandlerUses()
    {
        // The handler's table names are the string constants of HubTables (the SystemPartition constant aside).
        var source = File.ReadAllText(Path.Combine(Repo.Root, "functions", "Hub.Functions", "State", "HubTables.cs"));
        var handler = System.Text.RegularExpressions.Regex.Matches(source, "public const string (\\w+) = \"(\\w+)\";")
            .Where(m => m.Groups[1].Value != "SystemPartition").Select(m => m.Groups[2].Value).Order(StringComparer.Ordinal).ToList();
        var resources = Compiled.Value.Descendants().OfType<JObject>()
            .First(o => o.Value<string>("type") == "Microsoft.Resources/deployments" && o.Value<string>("name") == "hub-resources")["properties"]!["template"]!;
        var created = (resources["variables"]!["hubTables"] as JArray)!.Select(t => (string)t!).Order(StringComparer.Ordinal).ToList();

        Assert.True(handler.Count >= 12, "HubTables.cs constants not found");
        Assert.Equal(handler, created);
    }

    [Fact]
    public void Templates_MissingQueueOrSetting_IsReported()
    {
        var ingest = JObject.Parse("""
            {"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"m","queueName":"ingest","connection":"ServiceBusConnection"},
                         {"type":"serviceBus","direction":"out","name":"o","queueName":"enrich","connection":"OtherBus"},
                         {"type":"queue","direction":"out","name":"q","queueName":"audit","connection":"OtherStorage"},
                         {"type":"timerTrigger","direction":"in","name":"t","schedule":"%ArchiveCron%"}]}
            """);

        var problems = BindingCoverage.Check([("IngestEvent", ingest)], Compiled.Value);

        Assert.Contains(problems, p => p.Contains("'ingest'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("'enrich'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("OtherBus__fullyQualifiedNamespace", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("OtherStorage__queueServiceUri", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ArchiveCron", StringComparison.Ordinal));
    }

    [Fact]
    public void Templates_ServiceBusQueues_DeadLetterAndMatchTheHandlersDeliveryCount()
    {
        var queue = Compiled.Value.Descendants().OfType<JObject>().Single(o => o.Value<string>("type") == "Microsoft.ServiceBus/namespaces/queues");
        var settings = Compiled.Value.Descendants().OfType<JObject>().Single(o => o.Value<string>("type") == "Microsoft.Web/sites/config")["properties"]!;

        Assert.True(queue["properties"]!.Value<bool>("deadLetteringOnMessageExpiration"));
        Assert.Equal(queue["properties"]!.Value<int>("maxDeliveryCount").ToString(System.Globalization.CultureInfo.InvariantCulture), settings.Value<string>("Hub__Sync__MaxDeliveryCount"));
    }

    [Fact]
    public void Templates_DisableKeysEverywhere()
    {
        var all = Compiled.Value.Descendants().OfType<JObject>().ToList();

        Assert.False(all.Single(o => o.Value<string>("type") == "Microsoft.Storage/storageAccounts")["properties"]!.Value<bool>("allowSharedKeyAccess"));
        Assert.True(all.Single(o => o.Value<string>("type") == "Microsoft.ServiceBus/namespaces")["properties"]!.Value<bool>("disableLocalAuth"));
        Assert.True(all.Single(o => o.Value<string>("type") == "Microsoft.Insights/components")["properties"]!.Value<bool>("DisableLocalAuth"));
        Assert.True(all.Single(o => o.Value<string>("type") == "Microsoft.KeyVault/vaults")["properties"]!.Value<bool>("enableRbacAuthorization"));
    }

    [Fact]
    public void Main_OutputsTheUrls()
    {
        var outputs = (JObject)Compiled.Value["outputs"]!;

        foreach (var name in new[] { "FUNCTION_APP_URL", "RUNS_URL", "KEY_VAULT_URI", "SERVICE_BUS_NAMESPACE", "AZURE_RESOURCE_GROUP" })
        {
            Assert.True(outputs.ContainsKey(name), $"main.bicep should output {name}");
        }
    }

    [Fact]
    public void AzureYaml_PointsAtTheInfraAndTheFunctionProject()
    {
        var yaml = File.ReadAllText(Path.Combine(Repo.Root, "azure.yaml"));

        Assert.Contains("path: infra", yaml, StringComparison.Ordinal);
        Assert.Contains("project: ./functions/Hub.Functions", yaml, StringComparison.Ordinal);
        Assert.Contains("host: function", yaml, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Repo.Root, "infra", "main.parameters.json")));
    }
}
