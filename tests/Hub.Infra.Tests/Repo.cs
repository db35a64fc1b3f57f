using System.Diagnostics;
using System.Reflection;

namespace Hub.Infra.Tests;

internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Bicep { get; } = typeof(Repo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "BicepPath").Value!.Replace('\\', '/');

    public static (int ExitCode, string Output) Run(string file, string arguments, string? cwd = null, int timeoutSeconds = 300)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = cwd ?? Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(true);
            throw new TimeoutException($"{file} {arguments} ran over {timeoutSeconds} s");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "host.json")) && Directory.Exists(Path.Combine(dir.FullName, "infra")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found");
    }
}
