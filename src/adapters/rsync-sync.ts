import type { ChildProcess } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import { RemoteConnectionLost, type FileSync, type RemoteStream, type SyncOptions, type SyncSummary } from '../engine/ports.js';
import { StepError } from '../engine/step-error.js';
import { describeRsyncFailure, ItemizedChanges, parseRsyncStats, TailText } from '../engine/rsync-output.js';
import type { RolloutSettings } from '../engine/inputs/settings.js';
import { BRIDGE_HOST, BRIDGE_RSH, describeRemoteEnd, serveRsync } from './rsync-bridge.js';

/**
 * The file checksums rsync may use for --checksum, most wanted first. xxh3
 * puts 8 bytes a file in the file list instead of xxh128's or md5's 16: with
 * --checksum that is most of what a deploy that changes little sends. Each
 * end of rsync 3.2+ reads its own list from RSYNC_CHECKSUM_LIST and the two
 * must agree: with the list on this end only, each end settled on another
 * checksum and the transfer failed (rsync 3.5, "protocol incompatibility").
 * Names an rsync does not know are skipped; older rsyncs ignore the list.
 */
export const CHECKSUM_PREFERENCE = 'xxh3 xxh128 xxh64 md5 md4';

/**
 * The rsync argument list. Files are updated in place (a symlink switch would
 * leave the master serving the old release after a reload) with
 * --delay-updates, so a worker forked mid-sync never sees half a release.
 * --checksum: a CI checkout gives every file a fresh mtime, and a changed file
 * of the same size and second would otherwise be skipped silently.
 */
export function rsyncArguments(settings: RolloutSettings, options: SyncOptions = {}): string[] {
  return [
    ...(options.dryRun ? ['--dry-run'] : []),
    '--recursive',
    '--links',
    '--perms',
    // No --times: a file keeps its host mtime unless its content changes, so a
    // master-level file newer than the master proves it changed after the
    // master loaded it (a stale master).
    '--checksum',
    // The host's end gets the same checksum list as this one (childEnvironment).
    `--rsync-path=env RSYNC_CHECKSUM_LIST='${CHECKSUM_PREFERENCE}' rsync`,
    '--compress',
    '--delete',
    '--delete-delay',
    '--delay-updates',
    '--protect-args',
    '--stats',
    '--itemize-changes',
    // A transfer that stalls (a hung disk or network) fails instead of hanging the job.
    `--timeout=${Math.max(5, Math.ceil(settings.commandTimeoutMs / 1000))}`,
    ...settings.exclude.map((pattern) => `--exclude=${pattern}`),
    ...settings.protect.map((pattern) => `--filter=protect ${pattern}`),
    '--rsh',
    BRIDGE_RSH,
    '--',
    `${settings.source.replace(/\/+$/, '')}/`,
    `${BRIDGE_HOST}:${settings.target}/`,
  ];
}

/** The runner's environment minus the action's INPUT_* variables, which carry the secrets, plus the checksum list. */
export function childEnvironment(environment: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept = Object.entries(environment).filter(([name]) => !name.startsWith('INPUT_'));
  return { ...Object.fromEntries(kept), RSYNC_CHECKSUM_LIST: CHECKSUM_PREFERENCE };
}

/** rsync processes still running: the action stops them if it has to end early. */
const running = new Set<ChildProcess>();

/** Stops every rsync this process started that still runs (the action is ending: cancelled or crashed). */
export function stopRunningRsync(signal: NodeJS.Signals = 'SIGTERM'): number {
  for (const child of running) child.kill(signal);
  return running.size;
}

export class RsyncSync implements FileSync {
  constructor(
    private readonly settings: RolloutSettings,
    /** Starts rsync's remote end on the host's open connection. */
    private readonly openStream: (command: string) => Promise<RemoteStream>,
    private readonly debug?: (line: string) => void,
  ) {}

  sync(options: SyncOptions = {}): Promise<SyncSummary> {
    const args = rsyncArguments(this.settings, options);
    this.debug?.(`rsync ${args.map((arg) => JSON.stringify(arg)).join(' ')}`);
    // Loaded here, not at start-up, where it cost about 3 ms before the first connection.
    const { spawn } = process.getBuiltinModule('node:child_process');
    return new Promise((resolve, reject) => {
      // fd 3: the socket the remote shell (BRIDGE_RSH) talks to this process over.
      const child = spawn('rsync', args, { env: childEnvironment(), stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
      running.add(child);
      const bridge = serveRsync(child.stdio[3] as Duplex, this.openStream, this.debug);
      // --itemize-changes prints a line per file: only the end is kept (the --stats block is there).
      const stdout = new TailText();
      const stderr = new TailText();
      const itemized = new ItemizedChanges(options.watch);
      const out = child.stdio[1] as Readable;
      const err = child.stdio[2] as Readable;
      out.setEncoding('utf8');
      err.setEncoding('utf8');
      out.on('data', (chunk: string) => {
        stdout.add(chunk);
        itemized.add(chunk);
      });
      err.on('data', (chunk: string) => stderr.add(chunk));
      child.on('error', (error) => {
        running.delete(child);
        bridge.stop();
        reject(
          new StepError('sync', `cannot run rsync (${error.message}); install rsync on the runner. No file on the host was changed`, {
            filesMayHaveChanged: false,
          }),
        );
      });
      // How the host's end stopped, if it did before rsync: after, it is only this side closing it.
      let remoteEndFirst: string | undefined;
      // 'close' waits for fd 3 too, which the bridge's shell keeps open while the host's end runs: once rsync exits, the host's end goes.
      child.on('exit', () => {
        remoteEndFirst = describeRemoteEnd(bridge.outcome.remoteEnd);
        bridge.stop();
      });
      child.on('close', (code, signal) => {
        running.delete(child);
        bridge.stop();
        const shownEnd = code === null ? `was killed by ${signal}` : `exited ${code}`;
        this.debug?.(`rsync ${shownEnd}: ${stdout.value.trim().split('\n').slice(-16).join(' | ')}`);
        if (code === 0) {
          resolve({ ...parseRsyncStats(stdout.value), deletedNames: itemized.deleted, watchedChanges: itemized.watched, phpEditsOnly: itemized.phpEditsOnly });
          return;
        }
        const { outcome } = bridge;
        const remote = [outcome.stderr.trim(), remoteEndFirst, outcome.failure].filter(Boolean).join('\n');
        const failure = describeRsyncFailure({ code, signal, stderr: `${stderr.value}\n${remote}`, remoteStarted: outcome.started });
        const cause =
          outcome.connectionLost ? new RemoteConnectionLost('rsync', outcome.remoteEnd?.lost ?? outcome.failure ?? 'the connection was lost') : undefined;
        reject(new StepError('sync', failure.message, { filesMayHaveChanged: failure.filesMayHaveChanged, ...(cause ? { cause } : {}) }));
      });
    });
  }
}
