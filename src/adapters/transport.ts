/**
 * src/adapters/: the ports' real implementations: this file (a plan's hosts
 * opened: SSH and rsync over it), SSH (connecting through a jump host too,
 * host-key diagnosis, the command shell), rsync and its bridge on the SSH
 * connection, the runner's commands and bounded file reads. Imported by
 * src/rollout/, src/run/ and the two front ends; it imports only src/engine/.
 */

import type { HostSpec } from '../engine/inputs/host-spec.js';
import type { FileSync, RemoteShell } from '../engine/ports.js';
import type { DeployPlan, RolloutSettings } from '../engine/inputs/settings.js';
import { RsyncSync } from './rsync-sync.js';
import { worthCompressing } from './ssh-compression.js';
import { openSshShell } from './ssh-connect.js';

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

/**
 * `sourceFiles`: how many files the source holds, known soon after the start;
 * connections wait for it to know whether compression pays (worthCompressing).
 */
export function openTransport(plan: DeployPlan, options: { debug?: (line: string) => void; sourceFiles?: Promise<number> } = {}): Transport {
  const connection = {
    trust: plan.trust,
    credentials: plan.credentials,
    connectTimeoutMs: plan.rollout.connectTimeoutMs,
    ...(plan.jumpHost ? { jumpHost: plan.jumpHost } : {}),
  };
  // A source that cannot be counted fails elsewhere (its size is needed too); here it only means no compression.
  const compress = (options.sourceFiles ?? Promise.resolve(0)).then(worthCompressing, () => false);
  return {
    openShell: async (host) => openSshShell(host, { ...connection, compress: await compress }),
    fileSync: (shell, rollout) => {
      const stream = shell.stream?.bind(shell);
      if (!stream) throw new Error('this shell cannot stream, so rsync cannot run over it');
      return new RsyncSync(rollout, stream, options.debug);
    },
  };
}
