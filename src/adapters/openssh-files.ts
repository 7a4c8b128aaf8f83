import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostSpec } from '../engine/host-spec.js';
import type { Credentials, HostTrust } from '../engine/settings.js';

/**
 * The files the OpenSSH client under rsync needs, in one private directory
 * that `remove()` (and the action's post step) deletes:
 * - `config`: every option, so the command line carries no user value and a
 *   jump host gets the same pins and key (ProxyJump re-runs ssh with -F);
 * - `known_hosts`: exactly the pinned lines;
 * - `id`: the private key, mode 0600, only when there is one;
 * - `askpass`: answers the passphrase or password prompt from the child's
 *   environment, so neither appears in an argument list or a file.
 */
export interface OpenSshFiles {
  readonly directory: string;
  readonly configFile: string;
  /** Environment for the ssh child (askpass wiring, the agent socket). */
  readonly env: Readonly<Record<string, string>>;
  remove(): Promise<void>;
}

/** ProxyJump hands the config path to a shell, so the directory must need no quoting. */
const SHELL_SAFE_PATH = /^[A-Za-z0-9_./-]+$/;

function configValue(value: string): string {
  return `"${value.replaceAll('"', '')}"`;
}

export function sshConfigText(options: {
  readonly directory: string;
  readonly trust: HostTrust;
  readonly credentials: Credentials;
  readonly connectTimeoutMs: number;
  readonly jumpHost?: HostSpec;
}): string {
  const { trust, credentials } = options;
  const lines: string[] = [];
  if (options.jumpHost) {
    lines.push(
      'Host graceful-reload-jump',
      `  HostName ${options.jumpHost.host}`,
      `  Port ${options.jumpHost.port}`,
      `  User ${options.jumpHost.username}`,
      '  ProxyJump none',
    );
  }
  lines.push('Host *');
  if (options.jumpHost) lines.push('  ProxyJump graceful-reload-jump');
  if (trust.ignoreHostKeys) {
    lines.push('  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null', '  LogLevel ERROR');
  } else {
    lines.push('  StrictHostKeyChecking yes', `  UserKnownHostsFile ${configValue(join(options.directory, 'known_hosts'))}`);
  }
  lines.push('  GlobalKnownHostsFile /dev/null', '  CheckHostIP no', '  UpdateHostKeys no', '  HashKnownHosts no');
  if (credentials.privateKey !== undefined) {
    lines.push(`  IdentityFile ${configValue(join(options.directory, 'id'))}`);
    if (credentials.agentSocket === undefined) lines.push('  IdentitiesOnly yes');
  }
  if (credentials.agentSocket === undefined) lines.push('  IdentityAgent none');
  lines.push(
    `  PasswordAuthentication ${credentials.password !== undefined ? 'yes' : 'no'}`,
    '  KbdInteractiveAuthentication no',
    '  NumberOfPasswordPrompts 1',
    '  BatchMode no',
    `  ConnectTimeout ${Math.max(1, Math.ceil(options.connectTimeoutMs / 1000))}`,
    '  ServerAliveInterval 15',
    '  ForwardAgent no',
    '  ClearAllForwardings yes',
    '  ControlMaster no',
    '  ControlPath none',
    '  PermitLocalCommand no',
    '',
  );
  return lines.join('\n');
}

/** The askpass helper picks the secret by the prompt OpenSSH shows. */
const ASKPASS = `#!/bin/sh
case "$1" in
  *assphrase*) printf '%s\\n' "$GRACEFUL_RELOAD_PASSPHRASE" ;;
  *assword*) printf '%s\\n' "$GRACEFUL_RELOAD_PASSWORD" ;;
  *) exit 1 ;;
esac
`;

export async function writeOpenSshFiles(
  options: { trust: HostTrust; credentials: Credentials; connectTimeoutMs: number; jumpHost?: HostSpec },
  parent = tmpdir(),
): Promise<OpenSshFiles> {
  const base = SHELL_SAFE_PATH.test(parent) ? parent : tmpdir();
  const directory = await mkdtemp(join(base, 'graceful-reload-'));
  const remove = () => rm(directory, { recursive: true, force: true });
  try {
    const { credentials } = options;
    await writeFile(join(directory, 'known_hosts'), options.trust.pins.map((pin) => pin.line).join('\n') + '\n', { mode: 0o600 });
    if (credentials.privateKey !== undefined) await writeFile(join(directory, 'id'), credentials.privateKey, { mode: 0o600 });
    const configFile = join(directory, 'config');
    await writeFile(configFile, sshConfigText({ ...options, directory }), { mode: 0o600 });
    const env: Record<string, string> = {};
    if (credentials.passphrase !== undefined || credentials.password !== undefined) {
      const askpass = join(directory, 'askpass');
      await writeFile(askpass, ASKPASS, { mode: 0o700 });
      Object.assign(env, { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' });
      if (credentials.passphrase !== undefined) env['GRACEFUL_RELOAD_PASSPHRASE'] = credentials.passphrase;
      if (credentials.password !== undefined) env['GRACEFUL_RELOAD_PASSWORD'] = credentials.password;
    }
    if (credentials.agentSocket !== undefined) env['SSH_AUTH_SOCK'] = credentials.agentSocket;
    return { directory, configFile, env, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
