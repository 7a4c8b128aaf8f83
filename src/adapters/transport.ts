import type { HostSpec } from '../engine/host-spec.js';
import type { FileSync, RemoteShell } from '../engine/ports.js';
import type { DeployPlan, RolloutSettings } from '../engine/settings.js';
import { RsyncSync } from './rsync-sync.js';
import { openSshShell } from './ssh-session.js';

/**
 * The real I/O for a plan's hosts: one SSH connection per host (ssh2, with
 * the pins, credentials and jump host), and rsync run over that same
 * connection. Nothing is written to disk: no key, no config, no known_hosts.
 * Used by the action and by anything else that drives the engine
 * (benchmarks, the CLI).
 */
export interface Transport {
  openShell(host: HostSpec): Promise<RemoteShell>;
  /** rsync to the host whose shell this is, over its connection. */
  fileSync(shell: RemoteShell, rollout: RolloutSettings): FileSync;
}

export function openTransport(plan: DeployPlan, options: { debug?: (line: string) => void } = {}): Transport {
  const connection = {
    trust: plan.trust,
    credentials: plan.credentials,
    connectTimeoutMs: plan.rollout.connectTimeoutMs,
    ...(plan.jumpHost ? { jumpHost: plan.jumpHost } : {}),
  };
  return {
    openShell: (host) => openSshShell(host, connection),
    fileSync: (shell, rollout) => {
      const stream = shell.stream?.bind(shell);
      if (!stream) throw new Error('this shell cannot stream, so rsync cannot run over it');
      return new RsyncSync(rollout, stream, options.debug);
    },
  };
}
