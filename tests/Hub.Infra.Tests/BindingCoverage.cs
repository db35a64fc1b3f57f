using System.Text.RegularExpressions;
using Newtonsoft.Json.Linq;

namespace Hub.Infra.Tests;

/// <summary>
/// Checks that every function.json binding has what it needs in the compiled templates: its Service Bus queue
/// (with the receive or send role), the app settings its <c>connection</c> and <c>%Setting%</c> expressions name,
/// and the identity's role on the storage it uses. Returns the problems; none means covered.
/// </summary>
public static partial class BindingCoverage
{
    public const string ServiceBusDataReceiver = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0";
    public const string ServiceBusDataSender = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39";
    public const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    public const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    public const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    public const string KeyVaultSecretsOfficer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

    public static IReadOnlyList<string> Check(IEnumerable<(string Function, JObject Json)> functions, JObject template)
    {
        var problems = new List<string>();
        var text = template.ToString();
        var resources = FindNested(template, "hub-resources") ?? throw new InvalidOperationException("no hub-resources deployment in main template");
        var queues = (resources["variables"]?["serviceBusQueues"] as JArray ?? []).Cast<JObject>().ToList();
        var settings = AppSettingNames(template);

        void Need(bool ok, string problem)
        {
            if (!ok)
            {
                problems.Add(problem);
            }
        }

        void NeedRole(string guid, string what, string function) =>
            Need(text.Contains(guid, StringComparison.Ordinal), $"{function}: no role assignment {what} ({guid}) in the templates");

        foreach (var (function, json) in functions)
        {
            foreach (var binding in json["bindings"]!.Cast<JObject>())
            {
                var type = binding.Value<string>("type")!;
                var direction = binding.Value<string>("direction");
                foreach (Match m in SettingReference().Matches(binding.ToString()))
                {
                    Need(settings.Contains(m.Groups[1].Value), $"{function}: app setting '{m.Groups[1].Value}' (from %{m.Groups[1].Value}%) is not set by the templates");
                }

                switch (type)
                {
                    case "serviceBusTrigger":
                    case "serviceBus":
                    {
                        var name = binding.Value<string>("queueName")!;
                        var receive = type == "serviceBusTrigger";
                        var queue = queues.FirstOrDefault(q => q.Value<string>("name") == name);
                        Need(queue is not null, $"{function}: Service Bus queue '{name}' is not in infra/resources.bicep serviceBusQueues");
                        if (queue is not null)
                        {
                            Need(queue.Value<bool>(receive ? "receive" : "send"), $"{function}: queue '{name}' is not marked {(receive ? "receive" : "send")} in serviceBusQueues, so the identity lacks the role");
                        }

                        var connection = binding.Value<string>("connection") ?? "ServiceBusConnection";
                        Need(settings.Contains($"{connection}__fullyQualifiedNamespace"), $"{function}: app setting '{connection}__fullyQualifiedNamespace' is missing");
                        NeedRole(receive ? ServiceBusDataReceiver : ServiceBusDataSender, receive ? "Azure Service Bus Data Receiver" : "Azure Service Bus Data Sender", function);
                        break;
                    }

                    case "queueTrigger":
                    case "queue":
                    {
                        var connection = binding.Value<string>("connection") ?? "AzureWebJobsStorage";
                        Need(settings.Contains($"{connection}__queueServiceUri") || settings.Contains($"{connection}__accountName"), $"{function}: app setting '{connection}__queueServiceUri' is missing");
                        NeedRole(StorageQueueDataContributor, "Storage Queue Data Contributor", function);
                        break;
                    }

                    case "timerTrigger":
                        Need(settings.Contains("AzureWebJobsStorage__accountName"), $"{function}: timers need AzureWebJobsStorage__accountName (schedule locks)");
                        NeedRole(StorageBlobDataOwner, "Storage Blob Data Owner", function);
                        break;

                    case "httpTrigger":
                    case "http":
                        break;

                    default:
                        problems.Add($"{function}: binding type '{type}' ({direction}) is unknown to the infra check; teach BindingCoverage about it");
                        break;
                }
            }
        }

        // The handler's own dependencies.
        Need(settings.Contains("HubStorage__tableServiceUri"), "the handler's HubStorage__tableServiceUri is missing");
        NeedRole(StorageTableDataContributor, "Storage Table Data Contributor", "Hub.Functions");
        Need(settings.Contains("Hub__Secrets__KeyVaultUri"), "the handler's Hub__Secrets__KeyVaultUri is missing");
        NeedRole(KeyVaultSecretsOfficer, "Key Vault Secrets Officer", "Hub.Functions");
        Need(settings.Contains("AZURE_CLIENT_ID"), "AZURE_CLIENT_ID (the managed identity the handler uses) is missing");
        Need(!text.Contains("AccountKey=", StringComparison.Ordinal) && !text.Contains("SharedAccessKey=", StringComparison.Ordinal) && !text.Contains("listKeys(", StringComparison.Ordinal),
            "a key-based connection string appears in the templates");
        return problems;
    }

    /// <summary>The names of the function app's app settings, from the compiled functionapp module.</summary>
    public static HashSet<string> AppSettingNames(JObject template)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var config in template.Descendants().OfType<JObject>().Where(o => o.Value<string>("type") == "Microsoft.Web/sites/config"))
        {
            if (config["properties"] is JObject properties)
            {
                foreach (var p in properties.Properties())
                {
                    names.Add(p.Name);
                }
            }
        }

        return names;
    }

    private static JObject? FindNested(JObject template, string deploymentName) =>
        template.Descendants().OfType<JObject>()
            .FirstOrDefault(o => o.Value<string>("type") == "Microsoft.Resources/deployments" && o.Value<string>("name") == deploymentName)?["properties"]?["template"] as JObject;

    [GeneratedRegex("%([A-Za-z0-9_]+)%")]
    private static partial Regex SettingReference();
}
