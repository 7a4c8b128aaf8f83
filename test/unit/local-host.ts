import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { RemoteCommandTimeout, type CommandResult, type RemoteShell, type RemoteStream, type RolloutLog } from '../../src/engine/ports.js';
import { parseHostSpec } from '../../src/engine/inputs/host-spec.js';
import type { RolloutSettings } from '../../src/engine/inputs/settings.js';
import type { HostRun } from '../../src/rollout/context.js';

/** A RemoteShell that runs each command locally, as `ssh host <command>` would on the host; `commands` records them. */
export function localShell(commands: string[] = []): RemoteShell {
  return {
    run: (command, options) =>
      new Promise<CommandResult>((resolve, reject) => {
        commands.push(command);
        const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        const timer =
          options?.timeoutMs ?
            setTimeout(() => {
              child.kill('SIGKILL');
              reject(new RemoteCommandTimeout(command, options.timeoutMs!));
            }, options.timeoutMs)
          : undefined;
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ stdout, stderr, code, ...(signal ? { signal } : {}) });
        });
      }),
    stream: async (command) => localStream(command, commands),
    close: async () => undefined,
  };
}

/** A long-lived command run locally, stdin open, as the SSH shell's stream runs it on a host. */
export function localStream(command: string, commands: string[] = []): RemoteStream {
  commands.push(command);
  // Its own process group, so closing it ends the whole pipeline, as sshd's SIGKILL of the session does.
  const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const io = Duplex.from({ writable: child.stdin, readable: child.stdout });
  const ended = new Promise<Awaited<RemoteStream['ended']>>((resolve) => child.on('close', (code, signal) => resolve({ code, ...(signal ? { signal } : {}) })));
  const close = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  return { io, stderr: child.stderr, ended, close };
}

/** Valid rollout settings for unit tests, fast where it matters. */
export function testSettings(overrides: Partial<RolloutSettings> = {}): RolloutSettings {
  return {
    source: '/work/app',
    target: '/srv/app',
    exclude: ['.git/'],
    protect: ['*.pid'],
    startFile: 'start.php',
    php: 'php',
    reloadMode: 'auto',
    status: 'process',
    statusUrl: '',
    logFile: '',
    gracefulTimeoutMs: 60_000,
    onGracefulTimeout: 'force',
    ignoreWorkers: [],
    onMasterChange: 'restart',
    masterFiles: [],
    stopTimeoutMs: 2000,
    drain: { command: '', undrainCommand: '', waitMs: 0, when: 'restart' },
    hooks: { beforeReload: '', beforeReloadOn: 'first', afterReload: '', timeoutMs: 60_000 },
    timeoutMs: 30_000,
    settleMs: 500,
    pollIntervalMs: 100,
    commandTimeoutMs: 10_000,
    connectTimeoutMs: 5000,
    ...overrides,
  };
}

/** A log that keeps every line, warnings and errors marked. */
export function recordingLog(lines: string[]): RolloutLog {
  return { info: (m) => lines.push(m), warning: (m) => lines.push(`warning: ${m}`), error: (m) => lines.push(`error: ${m}`), debug: () => undefined };
}

/**
 * A temp directory for one test file: made (its real path, so commands that
 * resolve symlinks agree) before the file's tests, removed after them and
 * checked gone. `path()` is valid inside tests; `nextCase()` gives each test
 * a fresh directory name under it, `currentCase()` the last one given.
 */
export function tempRootFor(prefix: string): { path: () => string; nextCase: () => string; currentCase: () => string } {
  let root = '';
  let cases = 0;
  before(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    assert.equal(existsSync(root), false);
  });
  return { path: () => root, nextCase: () => join(root, `case-${++cases}`), currentCase: () => join(root, `case-${cases}`) };
}

/** A host run on this machine for the programs the lock and the snapshot send: `target` as the app, `shell` local; it syncs nothing and reads no status. */
export function localHostRun(target: string, shell: RemoteShell, lines: string[] = [], now: () => number = () => Date.now()): HostRun {
  return {
    host: parseHostSpec('deploy@web1', { username: 'root', port: 22 }),
    label: 'web1',
    settings: { ...testSettings(), target },
    io: {
      openShell: async () => shell,
      fileSync: () => assert.fail('this run syncs nothing'),
      statusSource: () => assert.fail('this run reads no status'),
      log: recordingLog(lines),
    },
    shell,
    now,
    facts: { step: 'preflight', filesChanged: false, signalled: false },
  };
}
