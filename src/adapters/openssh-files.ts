import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostKeyPin } from '../engine/known-hosts.js';
import type { Credentials } from '../engine/settings.js';

/**
 * The files OpenSSH (under rsync) needs: the pinned known_hosts, the private
 * key, and an askpass helper that hands over the passphrase from the
 * environment so it never appears in an argument list. They live in one
 * private directory that `remove()` (and the action's post step) deletes.
 */
export interface OpenSshFiles {
  readonly directory: string;
  readonly knownHostsFile: string;
  readonly keyFile: string;
  /** Environment for the ssh child: askpass wiring when the key has a passphrase. */
  readonly env: Readonly<Record<string, string>>;
  remove(): Promise<void>;
}

export async function writeOpenSshFiles(pins: readonly HostKeyPin[], credentials: Credentials, parent = tmpdir()): Promise<OpenSshFiles> {
  const directory = await mkdtemp(join(parent, 'graceful-reload-'));
  const remove = () => rm(directory, { recursive: true, force: true });
  try {
    const knownHostsFile = join(directory, 'known_hosts');
    await writeFile(knownHostsFile, pins.map((pin) => pin.line).join('\n') + '\n', { mode: 0o600 });
    const keyFile = join(directory, 'id');
    await writeFile(keyFile, credentials.privateKey ?? '', { mode: 0o600 });
    let env: Record<string, string> = {};
    if (credentials.passphrase !== undefined) {
      const askpass = join(directory, 'askpass');
      await writeFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$GRACEFUL_RELOAD_PASSPHRASE"\n', { mode: 0o700 });
      env = { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', GRACEFUL_RELOAD_PASSPHRASE: credentials.passphrase };
    }
    return { directory, knownHostsFile, keyFile, env, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
