import type { EventEmitter } from 'node:events';
import { Duplex, type Readable } from 'node:stream';
import { shownCommand } from '../engine/shown-text.js';
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  RemoteCommandTimeout,
  RemoteConnectionLost,
  RemoteOutputTooLarge,
  type CommandResult,
  type RemoteShell,
  type RemoteStream,
  type RunOptions,
} from '../engine/ports.js';

/**
 * The command shell over one SSH connection (ssh-connect.ts opens it): each
 * command on its own channel, its output bounded, its end told apart from a
 * lost connection.
 */

/** The part of an ssh2 session channel a command needs. */
export interface CommandChannel extends EventEmitter {
  readonly stderr: EventEmitter;
  signal(name: string): unknown;
  close(): unknown;
  end(): unknown;
}

/** The part of an ssh2 Client a shell needs. */
export interface CommandConnection {
  exec(command: string, callback: (error: Error | undefined, channel: CommandChannel) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Bytes of one stream, up to a limit. */
class BoundedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  /** False once the stream passed the limit; nothing past it is kept. */
  add(chunk: Buffer): boolean {
    if (this.size + chunk.length > this.limit) return false;
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  /** Decoded once, so a character split across two packets stays whole; trimmed, as node-ssh's execCommand was. */
  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8').trim();
  }
}

/** Ends a remote command: SIGKILL first, as closing the channel alone can leave it running. */
function killChannel(target: CommandChannel | undefined): void {
  try {
    target?.signal('KILL');
  } catch {
    // A server that refuses signal requests still gets the close.
  }
  try {
    target?.close();
  } catch {
    // Already closed.
  }
}

/**
 * The most channels a host's rollout opens at once on its one connection:
 * the resident probe, rsync, one command, and the lock's heartbeat.
 */
export const CHANNELS_AT_ONCE = 4;

/**
 * What a refused channel means. OpenSSH answers "open failed" when a
 * connection already has MaxSessions channels open (its default is 10),
 * which ssh2 reports as "(SSH) Channel open failure: open failed".
 */
export function channelRefusal(message: string): string {
  if (!/channel open failure/i.test(message)) return `the host did not start a remote command (${message})`;
  return (
    `the host refused to open another SSH channel (${message}): its sshd allows fewer sessions per connection than the rollout uses. ` +
    `Set MaxSessions to ${CHANNELS_AT_ONCE} or more in the host's sshd_config (the default is 10): a rollout opens up to ${CHANNELS_AT_ONCE} at once (the status probe, rsync, a command, the lock's heartbeat)`
  );
}

/** After the connection closes, how long a command's own channel gets to report before it counts as lost. */
const LOST_GRACE_MS = 50;

/**
 * Commands over one ssh2 connection, each on its own channel, with bounded
 * output: every stream is kept up to `maxOutputBytes` (DEFAULT_MAX_OUTPUT_BYTES),
 * and a command past it, or past its timeout, is sent SIGKILL and its channel
 * closed (closing alone can leave the remote command running). A command that
 * ends without an exit status is never "exit null": a signal is named in
 * `signal`, a lost connection rejects with RemoteConnectionLost.
 */
export class SshShell implements RemoteShell {
  /** Why the connection is gone, once it is. */
  private lost: string | undefined;
  private lastError: string | undefined;
  private readonly running = new Set<() => void>();

  constructor(
    private readonly connection: CommandConnection | null,
    private readonly dispose: () => void = () => undefined,
    /** A jump host's connection: its loss is this connection's loss. */
    via?: CommandConnection | null,
  ) {
    if (!connection) {
      this.lost = 'the connection was already closed';
      return;
    }
    // node-ssh stops listening for errors once connected: an error with no listener would end the process.
    connection.on('error', (error) => (this.lastError = error.message));
    connection.on('close', () => this.connectionClosed());
    via?.on('error', (error) => (this.lastError = `jump host: ${error.message}`));
  }

  private connectionClosed(): void {
    this.lost ??= this.lastError ?? 'the connection closed';
    // Channels normally report first; any that did not, after a moment, were cut off.
    setTimeout(() => {
      for (const abandon of [...this.running]) abandon();
    }, LOST_GRACE_MS).unref();
  }

  /**
   * A command on its own channel, with no input, its output kept up to the
   * bound: the channel opened as for stream(), its end read the same way.
   */
  run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    const limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const stdout = new BoundedBuffer(limit);
    const stderr = new BoundedBuffer(limit);
    return new Promise<CommandResult>((resolve, reject) => {
      let channel: CommandChannel | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (outcome: { error: Error } | { result: CommandResult }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.result);
      };
      // A timeout or an output past the bound: SIGKILL, as closing the channel alone can leave the command running.
      const stop = (error: Error) => {
        if (settled) return;
        killChannel(channel);
        settle({ error });
      };
      if (options.timeoutMs !== undefined) {
        const timeoutMs = options.timeoutMs;
        timer = setTimeout(() => stop(new RemoteCommandTimeout(command, timeoutMs)), timeoutMs);
      }
      this.open(command).then(
        async ({ channel: opened, ended: end }) => {
          channel = opened;
          // A command already given up on (timed out before its channel opened) is not left running.
          if (settled) return killChannel(opened);
          opened.on('data', (chunk: Buffer) => {
            if (!settled && !stdout.add(chunk)) stop(new RemoteOutputTooLarge(command, limit, 'stdout'));
          });
          opened.stderr.on('data', (chunk: Buffer) => {
            if (!settled && !stderr.add(chunk)) stop(new RemoteOutputTooLarge(command, limit, 'stderr'));
          });
          // No input: a command that reads stdin gets end of file, not a hang.
          opened.end();
          const ended = await end;
          if (ended.lost !== undefined) return settle({ error: new RemoteConnectionLost(command, ended.lost) });
          const signal = ended.code === null && ended.signal ? { signal: ended.signal } : {};
          settle({ result: { stdout: stdout.text(), stderr: stderr.text(), code: ended.code, ...signal } });
        },
        (error: Error) => settle({ error }),
      );
    });
  }

  async stream(command: string): Promise<RemoteStream> {
    const { channel: opened, ended } = await this.open(command);
    if (!(opened instanceof Duplex)) {
      killChannel(opened);
      throw new Error('the SSH channel is not a stream');
    }
    return { io: opened, stderr: opened.stderr as Readable, ended, close: () => killChannel(opened) };
  }

  /**
   * Opens a command's channel: rejects with RemoteConnectionLost when the
   * connection is gone (or goes before the channel opens), and with the
   * host's refusal when it opens no more channels.
   */
  private open(command: string): Promise<{ channel: CommandChannel; ended: RemoteStream['ended'] }> {
    return new Promise((resolve, reject) => {
      if (this.lost !== undefined || !this.connection) {
        reject(new RemoteConnectionLost(command, this.lost ?? 'no connection'));
        return;
      }
      let abandoned = false;
      const abandon = () => {
        abandoned = true;
        reject(new RemoteConnectionLost(command, this.lost ?? 'the connection closed'));
      };
      this.running.add(abandon);
      try {
        this.connection.exec(command, (error, opened) => {
          this.running.delete(abandon);
          if (error) reject(this.notStarted(command, error));
          else if (abandoned) killChannel(opened);
          // Its end is listened for here, in ssh2's callback: the exit status may come in the same packet
          // as the open confirmation, and an 'exit' event is not kept for a listener added a tick later.
          else resolve({ channel: opened, ended: this.channelEnd(opened) });
        });
      } catch (error) {
        // ssh2 throws "Not connected" synchronously once the socket is gone.
        this.running.delete(abandon);
        reject(new RemoteConnectionLost(command, this.lost ?? (error as Error).message, { cause: error }));
      }
    });
  }

  /** Why a command's channel did not open: the connection went, or the host refused one more channel. */
  private notStarted(command: string, error: Error): Error {
    if (this.lost) return new RemoteConnectionLost(command, this.lost, { cause: error });
    return new Error(`${channelRefusal(error.message)}: ${shownCommand(command)}`, { cause: error });
  }

  /** How a streaming command ended: its exit status, or the reason its connection went away. */
  private channelEnd(channel: CommandChannel): RemoteStream['ended'] {
    return new Promise((settle) => {
      let exit: { code: number | null; signal?: string } | undefined;
      const ended = () => {
        this.running.delete(ended);
        settle(exit ?? { code: null, lost: this.lost ?? "the host closed the command's channel without an exit status" });
      };
      this.running.add(ended);
      channel.on('exit', (code: number | null, signal?: string) => {
        exit = { code: typeof code === 'number' ? code : null, ...(signal ? { signal } : {}) };
      });
      channel.on('error', (channelError: Error) => (this.lastError = channelError.message));
      channel.on('close', ended);
    });
  }

  async close(): Promise<void> {
    this.dispose();
  }
}
