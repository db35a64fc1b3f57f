using System.Diagnostics;

namespace Hub.Functions.Hosting;

/// <summary>
/// When started by the local host (<c>HUB_PARENT_PID</c>), stops the handler once that process is gone, so a
/// local host killed hard never leaves a handler running. The Azure host does not set the variable.
/// </summary>
public sealed class ParentProcessWatch(IHostApplicationLifetime lifetime, ILogger<ParentProcessWatch> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("HUB_PARENT_PID"), out var pid))
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            if (!IsAlive(pid))
            {
                logger.LogWarning("Parent process {Pid} is gone; stopping the handler", pid);
                lifetime.StopApplication();
                return;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
