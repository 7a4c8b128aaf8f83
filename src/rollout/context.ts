import type { HostSpec } from '../engine/inputs/host-spec.js';
import {
  describeExit,
  RemoteConnectionLost,
  type CommandResult,
  type FileSync,
  type RemoteShell,
  type RolloutLog,
  type RunnerCommand,
  type SyncSummary,
} from '../engine/ports.js';
import type { Step } from '../engine/step-error.js';
import { shownCommand } from '../engine/shown-text.js';
import type { CommandRecord } from '../engine/report/report.js';
import type { RolloutSettings, StatusSourceKind } from '../engine/inputs/settings.js';
import type { StatusSource } from '../status/status-source.js';

/** Where the status source reads from, as preflight found it. */
export interface StatusSourceSetup {
  readonly kind: StatusSourceKind;
  readonly settings: RolloutSettings;
  readonly pidFile: string;
  /** The app log, or '' when there is none to read. */
  readonly logFile: string;
}

/**
 * Everything one host's rollout does to the outside world, passed in: the
 * action wires SSH, rsync and the remote status source (src/rollout/real-io.ts);
 * a unit test wires a fake shell and scripted snapshots.
 */
export interface HostRolloutIO {
  readonly openShell: (host: HostSpec) => Promise<RemoteShell>;
  /** The sync for one host over its shell, with its settings; `protect`: more rsync protect rules (the app's runtime files). */
  readonly fileSync: (shell: RemoteShell, settings: RolloutSettings, protect: readonly string[]) => FileSync;
  readonly statusSource: (shell: RemoteShell, setup: StatusSourceSetup) => StatusSource;
  readonly log: RolloutLog;
  /** Commands on the runner (drain-command, undrain-command); absent where none can run. */
  readonly runnerCommand?: RunnerCommand;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What is known about the host so far: a failure says it, so nobody has to guess what was left behind. */
export interface HostFacts {
  step: Step;
  filesChanged: boolean;
  sync?: SyncSummary;
  signalled: boolean;
  /** A restart stopped the app. */
  stopped?: boolean;
}

/** One host's rollout in progress: the steps share it. */
export interface HostRun {
  readonly host: HostSpec;
  readonly label: string;
  readonly settings: RolloutSettings;
  readonly io: HostRolloutIO;
  /** The host's shell, every command traced in the debug log. */
  readonly shell: RemoteShell;
  readonly now: () => number;
  readonly facts: HostFacts;
  /** The user's commands run for this host so far, for its report (drain, before-reload, after-reload, undrain). */
  readonly commands?: CommandRecord[];
  /** Whether this host runs before-reload (before-reload-on: first runs it on one host only). */
  readonly runsBeforeReload?: boolean;
  /** Takes the host out of its load balancer before it stops serving (drain-command); absent: nothing to tell. */
  readonly drain?: { readonly before: (run: HostRun) => Promise<void> };
  /** Set when the run is cancelled: watches stop at their next look instead of running out their time. */
  readonly cancelled?: AbortSignal;
}

/** Every remote command and its outcome in the debug log; commands carry paths and PIDs, never secrets. */
export function traced(shell: RemoteShell, log: RolloutLog, label: string): RemoteShell {
  return {
    async run(command, options) {
      const started = Date.now();
      const shown = shownCommand(command);
      try {
        const result = await shell.run(command, options);
        log.debug(`${label}: $ ${shown} -> ${describeExit(result)} (${Date.now() - started} ms)`);
        return result;
      } catch (error) {
        log.debug(`${label}: $ ${shown} -> ${(error as Error).message}`);
        throw error;
      }
    },
    ...(shell.stream ? { stream: shell.stream.bind(shell) } : {}),
    close: () => shell.close(),
  };
}

/** Lost connections whose host could not be reached again, and why. */
const unreachable = new WeakMap<RemoteShell, unknown>();

/**
 * A clean-up command (releasing the lock, removing rsync's staging
 * directories) on the host's connection, or, when that one was lost, on a
 * new one: the rollout's one connection carries rsync too, and what it leaves
 * behind must not outlive a dropped connection when the host can be reached.
 */
export async function runOnAnyConnection(run: HostRun, command: string, why: string): Promise<CommandResult> {
  const options = { timeoutMs: run.settings.commandTimeoutMs };
  try {
    return await run.shell.run(command, options);
  } catch (error) {
    if (!(error instanceof RemoteConnectionLost)) throw error;
    const fresh = await connectAgain(run, error, why);
    try {
      return await fresh.run(command, options);
    } finally {
      await fresh.close();
    }
  }
}

/**
 * A whole step (a rollback) on the host's connection, or on a new one when
 * that one is found lost before the step begins: the step's run carries the
 * new shell, which is closed after.
 */
export async function onLiveConnection<T>(run: HostRun, why: string, step: (run: HostRun) => Promise<T>): Promise<T> {
  try {
    await run.shell.run('true', { timeoutMs: run.settings.commandTimeoutMs });
  } catch (error) {
    if (!(error instanceof RemoteConnectionLost)) throw error;
    const fresh = await connectAgain(run, error, why);
    try {
      return await step({ ...run, shell: fresh });
    } finally {
      await fresh.close();
    }
  }
  return step(run);
}

/** A new connection to a host whose connection was lost, traced; the caller closes it. */
async function connectAgain(run: HostRun, lost: RemoteConnectionLost, why: string): Promise<RemoteShell> {
  const failed = unreachable.get(run.shell);
  if (failed) throw failed;
  run.io.log.info(`${run.label}: the connection was lost (${lost.why}); connecting again ${why}`);
  const fresh = await run.io.openShell(run.host).catch((error: unknown) => {
    // One wait for a host that is down is enough: the next clean-up of this run does not connect again.
    unreachable.set(run.shell, error);
    throw error;
  });
  return traced(fresh, run.io.log, run.label);
}
