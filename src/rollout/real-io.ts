import { runnerCommand } from '../adapters/runner-command.js';
import type { Transport } from '../adapters/transport.js';
import type { RolloutLog } from '../engine/ports.js';
import { startFilePath } from '../engine/inputs/settings.js';
import { RemoteStatus } from '../status/remote-status.js';
import type { HostRolloutIO } from './context.js';

/**
 * The rollout's I/O on real hosts: the transport's SSH and rsync, the status
 * source over the same connection, and commands on the runner in `workspace`.
 */
export function realRolloutIO(transport: Transport, log: RolloutLog, workspace: string): HostRolloutIO {
  return {
    openShell: (host) => transport.openShell(host),
    fileSync: (shell, settings, protect) => transport.fileSync(shell, { ...settings, protect: [...settings.protect, ...protect] }),
    statusSource: (shell, setup) =>
      new RemoteStatus({
        kind: setup.kind,
        shell,
        settings: setup.settings,
        probe: {
          php: setup.settings.php,
          startFile: startFilePath(setup.settings),
          pidFile: setup.pidFile,
          logFile: setup.logFile,
          statusUrl: setup.settings.statusUrl,
          urlTimeoutMs: Math.min(5000, setup.settings.commandTimeoutMs),
        },
      }),
    log,
    runnerCommand: runnerCommand(workspace),
  };
}
