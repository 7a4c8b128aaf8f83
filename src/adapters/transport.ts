import { readFile } from 'node:fs/promises';
import type { HostSpec } from '../engine/host-spec.js';
import type { FileSync, RemoteShell } from '../engine/ports.js';
import type { DeployPlan, RolloutSettings } from '../engine/settings.js';
import { writeOpenSshFiles, type OpenSshFiles } from './openssh-files.js';
import { RsyncSync } from './rsync-sync.js';
import { openSshShell } from './ssh-session.js';

/**
 * The real I/O for a plan's hosts: node-ssh for commands, rsync over OpenSSH
 * for files, both with the same pins, credentials and jump host. Used by the
 * action and by anything else that drives the engine (benchmarks, a CLI).
 */
export interface Transport {
  readonly files: OpenSshFiles;
  openShell(host: HostSpec): Promise<RemoteShell>;
  fileSync(host: HostSpec, rollout: RolloutSettings): FileSync;
  close(): Promise<void>;
}

export async function openTransport(plan: DeployPlan, options: { tempParent?: string; debug?: (line: string) => void } = {}): Promise<Transport> {
  const connection = {
    trust: plan.trust,
    credentials: plan.credentials,
    connectTimeoutMs: plan.rollout.connectTimeoutMs,
    ...(plan.jumpHost ? { jumpHost: plan.jumpHost } : {}),
  };
  const files = await writeOpenSshFiles(connection, options.tempParent);
  options.debug?.(`OpenSSH config for rsync (${files.configFile}):\n${await readFile(files.configFile, 'utf8')}`);
  return {
    files,
    openShell: (host) => openSshShell(host, connection),
    fileSync: (host, rollout) => new RsyncSync(host, rollout, files, options.debug),
    close: () => files.remove(),
  };
}
