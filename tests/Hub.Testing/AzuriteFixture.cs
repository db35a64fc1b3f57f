using Azure.Data.Tables;
using Hub.LocalHost;
using Xunit;

namespace Hub.Testing;

/// <summary>
/// Azurite for tests: uses the one listening on the default ports, or starts the repository's pinned Azurite in
/// memory (installing it with npm on a fresh machine) and stops it afterwards. Each test gets a fresh table prefix,
/// so tests never see each other's rows.
/// </summary>
/// <remarks>xunit wants collection definitions in the test assembly: each test project declares
/// <c>[CollectionDefinition(AzuriteFixture.Collection)] class AzuriteCollection : ICollectionFixture&lt;AzuriteFixture&gt;</c>.</remarks>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public const string Collection = "Azurite";
    public const string ConnectionString = "UseDevelopmentStorage=true";

    private AzuriteLauncher? _launcher;

    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        _launcher = await AzuriteLauncher.EnsureAsync(null, _ => { }, cts.Token);
    }

    public async Task DisposeAsync()
    {
        if (_launcher is not null)
        {
            await _launcher.DisposeAsync();
        }
    }

    /// <summary>A table prefix no other test uses (letters and digits only, as Table Storage requires).</summary>
    public static string NewTablePrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    public static TableServiceClient Tables() => new(ConnectionString);
}
