using System.IO.Compression;
using Xunit;

namespace Hub.Infra.Tests;

/// <summary>The deployable zip, as `./hub publish` makes it: layout, run bit, nothing local.</summary>
public class PublishPackageTests
{
    [Fact]
    public void Publish_Zip_HasTheFunctionAppLayoutAndAnExecutableLinuxHandler()
    {
        var dir = Path.Combine(Path.GetTempPath(), "hub-publish-" + Guid.NewGuid().ToString("N")[..8]);
        var zipPath = dir + ".zip";
        try
        {
            var (exit, output) = Repo.Run("bash", $"./hub publish {dir} {zipPath}", timeoutSeconds: 600);
            Assert.True(exit == 0, output);

            using var zip = ZipFile.OpenRead(zipPath);
            var names = zip.Entries.Select(e => e.FullName.Replace('\\', '/')).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("host.json", names);
            foreach (var function in Directory.GetDirectories(Path.Combine(Repo.Root, "functions")).Where(d => File.Exists(Path.Combine(d, "function.json"))))
            {
                Assert.Contains($"{Path.GetFileName(function)}/function.json", names);
            }

            var handler = zip.GetEntry("Hub.Functions")!;
            var mode = (handler.ExternalAttributes >> 16) & 0x1FF;
            Assert.True((mode & 0x40) != 0, $"the handler must keep its run bit (mode {Convert.ToString(mode, 8)})");
            using (var stream = handler.Open())
            {
                var magic = new byte[4];
                stream.ReadExactly(magic);
                Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, magic);
            }

            Assert.Contains("libcoreclr.so", names); // self-contained: no runtime needed on the host image
            Assert.DoesNotContain(names, n => n.EndsWith("local.settings.json", StringComparison.Ordinal) || n.Contains(".Development.", StringComparison.Ordinal));
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, true);
            }

            File.Delete(zipPath);
        }
    }
}
