import type { Duplex } from 'node:stream';
import { describeExit, RemoteConnectionLost, type RemoteStream } from '../engine/ports.js';

/**
 * rsync over the connection the rollout already has.
 *
 * rsync starts its remote end through a "remote shell" program (`--rsh`),
 * normally OpenSSH: a second handshake, a second host-key check, and a key
 * and config file on disk. Ours is `sh`: it writes the arguments rsync gave
 * it to file descriptor 3, a socket this process handed rsync (and rsync
 * its child), then copies bytes both ways between rsync and that socket.
 * This process runs the remote command as one more exec channel on the
 * host's open SSH connection and relays the socket to it.
 *
 * The shell ends when this side closes the socket (the remote command
 * ended), as ssh does; the copier still reading rsync's pipe is stopped then.
 * Background jobs of a non-interactive sh read /dev/null unless told
 * otherwise, hence the copy of stdin to fd 4 first.
 */
export const BRIDGE_RSH = `sh -c 'printf "%s\\0" "$#" "$@" >&3 || exit 255; exec 4<&0; cat <&4 >&3 & cat <&3; kill $! 2>/dev/null; exit 0' graceful-reload-rsh`;

/** The host part of rsync's destination: any name does, the bridge knows which host it serves. */
export const BRIDGE_HOST = 'graceful-reload';

/** More than any rsync command line; a header past it is not rsync's. */
const MAX_HEADER_BYTES = 64 * 1024;

export class BridgeHeaderError extends Error {
  override name = 'BridgeHeaderError';
}

/**
 * The remote shell's first bytes: the argument count and the arguments,
 * each NUL-terminated. Undefined while incomplete; `rest` is the start of
 * rsync's own stream.
 */
export function readBridgeHeader(bytes: Buffer): { args: string[]; rest: Buffer } | undefined {
  const fields: string[] = [];
  let start = 0;
  for (let at = bytes.indexOf(0); at !== -1; at = bytes.indexOf(0, start)) {
    fields.push(bytes.subarray(start, at).toString('utf8'));
    start = at + 1;
    const count = Number(fields[0]);
    if (!Number.isInteger(count) || count < 1)
      throw new BridgeHeaderError(`the remote shell sent "${fields[0]!.slice(0, 20)}" where an argument count belongs`);
    if (fields.length === count + 1) return { args: fields.slice(1), rest: bytes.subarray(start) };
  }
  if (bytes.length > MAX_HEADER_BYTES) throw new BridgeHeaderError(`the remote shell sent over ${MAX_HEADER_BYTES} bytes of arguments`);
  return undefined;
}

/**
 * The command rsync asks the remote shell to run: after `[-l user] host`,
 * the rest joined by spaces, as OpenSSH joins it for the login shell.
 */
export function remoteCommandOf(args: readonly string[]): string {
  const afterUser = args[0] === '-l' ? args.slice(2) : args;
  const command = afterUser.slice(1);
  if (command.length === 0) throw new BridgeHeaderError('rsync gave the remote shell no command to run');
  return command.join(' ');
}

/** What the bridge saw, for rsync's failure message. */
export interface BridgeOutcome {
  /** The remote command started on the host: files may have changed from here on. */
  started: boolean;
  /** The remote command's stderr (rsync's remote errors), its end only. */
  stderr: string;
  /** Why the bridge could not serve rsync, if it could not. */
  failure?: string;
  /** How the remote command ended, once it did. */
  remoteEnd?: Awaited<RemoteStream['ended']>;
  /** The host's connection was gone: no retry over it can succeed. */
  connectionLost: boolean;
}

/** How the host's end of rsync stopped, for a failure message: only when it stopped before the local rsync did. */
export function describeRemoteEnd(end: BridgeOutcome['remoteEnd']): string | undefined {
  if (!end || end.code === 0) return undefined;
  return `the host's rsync: ${end.lost !== undefined ? `the SSH connection was lost (${end.lost})` : describeExit(end)}`;
}

const STDERR_KEPT = 16 * 1024;

/**
 * Serves one rsync run: reads the remote shell's header from `socket`,
 * opens the remote command with `open`, and relays bytes until either end
 * stops or `stop` is called. Never throws: what happened is in `outcome`.
 */
export function serveRsync(
  socket: Duplex,
  open: (command: string) => Promise<RemoteStream>,
  debug?: (line: string) => void,
): { outcome: BridgeOutcome; stop: () => void } {
  const outcome: BridgeOutcome = { started: false, stderr: '', connectionLost: false };
  let remote: RemoteStream | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    remote?.close();
    socket.destroy();
  };
  let header = Buffer.alloc(0);
  const fail = (why: string) => {
    outcome.failure ??= why;
    stop();
  };
  const onHeader = (chunk: Buffer) => {
    header = Buffer.concat([header, chunk]);
    let request: ReturnType<typeof readBridgeHeader>;
    let command: string;
    try {
      request = readBridgeHeader(header);
      if (!request) return;
      command = remoteCommandOf(request.args);
    } catch (error) {
      fail((error as Error).message);
      return;
    }
    socket.off('data', onHeader);
    socket.pause();
    debug?.(`rsync bridge: ${command}`);
    open(command).then(
      (opened) => {
        if (stopped) {
          opened.close();
          return;
        }
        remote = opened;
        outcome.started = true;
        void relay(socket, opened, request.rest, outcome);
      },
      (error: Error) => {
        outcome.connectionLost = error instanceof RemoteConnectionLost;
        fail(`could not start rsync on the host: ${error.message}`);
      },
    );
  };
  socket.on('data', onHeader);
  socket.on('error', () => undefined);
  socket.on('close', () => {
    if (!outcome.started) fail(outcome.failure ?? 'rsync ended before it asked for its remote end');
  });
  return { outcome, stop };
}

/** Bytes both ways until the remote command ends; its stderr is kept for messages. */
async function relay(socket: Duplex, remote: RemoteStream, first: Buffer, outcome: BridgeOutcome): Promise<void> {
  remote.stderr.on('data', (chunk: Buffer) => {
    outcome.stderr = (outcome.stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
  });
  remote.io.on('error', () => undefined);
  if (first.length > 0) remote.io.write(first);
  // The socket never ends by itself (rsync holds it open too): the remote command's end closes the relay.
  socket.pipe(remote.io, { end: false });
  remote.io.pipe(socket);
  outcome.remoteEnd = await remote.ended;
  outcome.connectionLost = outcome.remoteEnd.lost !== undefined;
  socket.end();
}
