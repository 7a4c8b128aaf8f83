import { describeExit, type CommandResult } from '../engine/ports.js';

/**
 * What the restart command (src/remote/restart.sh) measured on the host.
 * Times are milliseconds on the host's clock; a field is missing when the
 * restart did not get that far.
 */
export interface RestartMeasure {
  /** How the command ended: started (start -d exited 0), or where it stopped. */
  readonly outcome: 'started' | 'signal-failed' | 'not-stopped' | 'start-failed';
  /** Client connections the old workers held when they were told to stop (null: their sockets could not be read). */
  readonly connectionsClosed: number | null;
  readonly signalledAt?: number;
  /** When the old master was gone. */
  readonly stoppedAt?: number;
  /** Old workers killed because they ran past stop-timeout. */
  readonly killed: number;
  /** When every TCP port of the new definitions listened again. */
  readonly listeningAt?: number;
  /** What `start -d` printed, and how the command exited. */
  readonly startOutput: string;
  readonly exit: string;
}

/** Reads the command's key=value lines; anything after `start-output:` is Workerman's own output. */
export function parseRestartOutput(result: CommandResult): RestartMeasure {
  const [head = '', ...tail] = result.stdout.split('\nstart-output:\n');
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (const line of head.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
    else if (line.trim() !== '') flags.add(line.trim());
  }
  const at = (key: string, field: 'signalledAt' | 'stoppedAt' | 'listeningAt') => {
    const value = Number(values.get(key));
    return Number.isSafeInteger(value) && value > 0 ? { [field]: value } : {};
  };
  const connections = values.get('connections');
  const outcome =
    flags.has('signal-failed') ? 'signal-failed'
    : flags.has('not-stopped') ? 'not-stopped'
    : result.code === 0 && values.get('start-exit') === '0' ? 'started'
    : 'start-failed';
  return {
    outcome,
    connectionsClosed: connections !== undefined && /^\d+$/.test(connections) ? Number(connections) : null,
    killed: Number(values.get('killed') ?? 0) || 0,
    ...at('signalled', 'signalledAt'),
    ...at('stopped', 'stoppedAt'),
    ...at('listening', 'listeningAt'),
    startOutput: tail.join('\nstart-output:\n').trim(),
    exit: describeExit(result),
  };
}

/** The TCP ports a set of listen addresses opens (`http://0.0.0.0:8080`); UDP and Unix sockets have no TCP listener to wait for. */
export function tcpPorts(listen: readonly string[]): number[] {
  const ports = new Set<number>();
  for (const address of listen) {
    const match = /^([a-z0-9+.-]+):\/\/.*:(\d{1,5})$/i.exec(address);
    if (!match || /^(udp|unix)$/i.test(match[1]!)) continue;
    const port = Number(match[2]);
    if (port > 0 && port < 65536) ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}
