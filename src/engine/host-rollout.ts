import { logFileCandidates } from './app-log.js';
import type { HostSpec } from './host-spec.js';
import type { HostSnapshot } from './worker-snapshot.js';
import { StepError, type FileSync, type RemoteShell, type RolloutLog, type Step, type SyncSummary } from './ports.js';
import type { HostReport } from './report.js';
import { watchReload } from './reload-watch.js';
import { startFilePath, type RolloutSettings } from './settings.js';
import { BaselineError, takeBaseline, type ReloadBaseline, type VerdictRules } from './verdict.js';
import { canSignalCommand, defaultPidFile, layoutCheckCommand, reloadCommand, stopWorkerCommand } from '../workerman/commands.js';
import { StatusParseError, type StatusReport } from '../workerman/status-table.js';
import { RemoteStatus } from '../status/remote-status.js';

export interface HostRolloutIO {
  readonly openShell: (host: HostSpec) => Promise<RemoteShell>;
  readonly fileSync: (host: HostSpec) => FileSync;
  readonly log: RolloutLog;
  readonly now?: () => number;
}

/** Nothing at all happening this long after the signal means the master did not act on it. */
const NO_PROGRESS_MS = 10_000;
/** Once forcing a pinned reload, how long the master gets before the next holder is stopped. */
const FORCE_STEP_MS = 3000;
const CRASH_LIMIT = 2;

function verdictRules(settings: RolloutSettings): VerdictRules {
  return {
    ignoreGroups: settings.ignoreWorkers,
    settleMs: settings.settleMs,
    reloadMode: settings.reloadMode,
    ...(settings.revision !== undefined ? { revision: settings.revision } : {}),
    gracefulTimeoutMs: settings.gracefulTimeoutMs,
    noProgressMs: settings.reloadMode === 'graceful' ? Math.min(NO_PROGRESS_MS, settings.gracefulTimeoutMs) : NO_PROGRESS_MS,
    forceStepMs: FORCE_STEP_MS,
    crashLimit: CRASH_LIMIT,
  };
}

type Running = Extract<StatusReport, { running: true }>;

/** Every remote command and its outcome in the debug log; commands carry paths and PIDs, never secrets. */
function traced(shell: RemoteShell, log: RolloutLog, label: string): RemoteShell {
  return {
    async run(command, options) {
      const started = Date.now();
      const shown = command.length > 160 ? `${command.slice(0, 160)}...` : command;
      try {
        const result = await shell.run(command, options);
        log.debug(`${label}: $ ${shown} -> exit ${result.code} (${Date.now() - started} ms)`);
        return result;
      } catch (error) {
        log.debug(`${label}: $ ${shown} -> ${(error as Error).message}`);
        throw error;
      }
    },
    close: () => shell.close(),
  };
}

/**
 * One host's rollout, the unit a fleet planner schedules: connect, check the
 * master runs, sync, signal, and prove the reload. It never throws; every
 * outcome is a report that says which step failed and whether files changed.
 */
export async function rolloutHost(host: HostSpec, settings: RolloutSettings, io: HostRolloutIO): Promise<HostReport> {
  const now = io.now ?? Date.now;
  const started = now();
  const label = host.label;
  let shell: RemoteShell | undefined;
  let source: RemoteStatus | undefined;
  let filesChanged = false;
  let sync: SyncSummary | undefined;
  // Errors that do not name their step (a hung command, a dropped connection) belong to the current one.
  let step: Step = 'connect';
  try {
    io.log.info(`${label}: connecting`);
    shell = await io.openShell(host);
    const remote = traced(shell, io.log, label);

    step = 'preflight';
    const checked = await preflight(remote, settings, host);
    source = checked.source;
    const { before, table, logFile } = checked;
    io.log.info(
      `${label}: master ${before.masters[0]!.pid} running${table?.workermanVersion ? ` (Workerman ${table.workermanVersion})` : ''}, ${before.workers.length} worker(s)` +
        (logFile ? `, log ${logFile}` : ', no readable app log found'),
    );

    io.log.info(`${label}: syncing ${settings.source} to ${settings.target}`);
    step = 'sync';
    filesChanged = true;
    sync = await io.fileSync(host).sync();
    io.log.info(`${label}: ${sync.filesTransferred} file(s) sent, ${sync.filesDeleted} deleted`);

    step = 'signal';
    const rules = verdictRules(settings);
    // Crash counts from before the sync could include crashes during it.
    if (settings.status === 'workerman') await source.readTable();
    let baseline: ReloadBaseline;
    try {
      baseline = takeBaseline(await source.snapshot(), rules);
    } catch (error) {
      if (error instanceof BaselineError) throw new StepError('signal', `${error.message}; the files were synced but no reload was sent`);
      throw error;
    }
    io.log.info(
      `${label}: master ${baseline.masterPid}, ${baseline.tracked.length} worker(s) to replace` +
        (baseline.kept.length > 0 ? `, ${baseline.kept.length} kept (${[...new Set(baseline.kept.map((w) => w.group))].join(', ')})` : ''),
    );

    source.markSignal();
    const signalStarted = now();
    const reload = await remote.run(reloadCommand(settings, settings.reloadMode), { timeoutMs: settings.commandTimeoutMs });
    if (/\bnot run\b/.test(reload.stdout) || reload.code !== 0) {
      throw new StepError('signal', `"${settings.php} ${settings.startFile} reload" did not reach a master (exit ${reload.code}): ${(reload.stdout + reload.stderr).trim()}`);
    }
    io.log.info(`${label}: ${settings.reloadMode} reload signalled; watching workers`);
    step = 'verify';

    const outcome = await watchReload({
      label,
      baseline,
      rules,
      timeoutMs: settings.timeoutMs,
      pollIntervalMs: settings.pollIntervalMs,
      onGracefulTimeout: settings.onGracefulTimeout,
      snapshot: () => source!.snapshot(),
      stopWorker: async (worker, signal) => {
        const result = await remote.run(stopWorkerCommand(worker.pid, baseline.masterPid, signal), { timeoutMs: settings.commandTimeoutMs });
        return result.code === 0;
      },
      logSinceSignal: () => source!.logSinceSignal(),
      log: io.log,
      now,
    });
    const common = {
      host: label,
      filesChanged,
      sync,
      masterPid: baseline.masterPid,
      kept: baseline.kept.map(({ pid, group }) => ({ pid, group })),
      forced: outcome.forced,
      durationMs: now() - started,
      reloadMs: now() - signalStarted,
    };
    if (!outcome.ok) {
      for (const line of outcome.appErrors) io.log.error(`${label}: app log: ${line}`);
      return {
        ...common,
        ok: false,
        step: 'verify',
        reason: outcome.reason,
        error: outcome.message + (outcome.appErrors.length > 0 ? `. The app log says: ${outcome.appErrors[0]}` : ''),
        stillOld: outcome.stillOld.map(({ pid, group }) => ({ pid, group })),
      };
    }
    return {
      ...common,
      ok: true,
      step: 'done',
      replaced: baseline.tracked.map(({ pid, group }) => ({ group, oldPid: pid })),
      workers: outcome.workers.map(({ pid, group }) => ({ pid, group })),
    };
  } catch (error) {
    const stepError = error instanceof StepError ? error : new StepError(step, (error as Error).message ?? String(error), { cause: error });
    return {
      host: label,
      ok: false,
      step: stepError.step,
      error: stepError.message,
      filesChanged,
      ...(sync ? { sync } : {}),
      durationMs: now() - started,
    };
  } finally {
    source?.stop();
    await shell?.close().catch(() => undefined);
  }
}

/**
 * Refuses to touch a host whose master is not running (a reload would exit 0
 * and prove nothing) or that the deploy user may not signal, and finds the
 * app log. In that order: `status` run by another user than the master's
 * says "not run" too, which would hide the real problem.
 */
async function preflight(
  shell: RemoteShell,
  settings: RolloutSettings,
  host: HostSpec,
): Promise<{ source: RemoteStatus; before: HostSnapshot; table: Running | undefined; logFile: string }> {
  const start = startFilePath(settings);
  const candidates = settings.logFile !== '' ? [settings.logFile] : logFileCandidates(settings.target, start.slice(0, start.lastIndexOf('/')));
  const layout = await shell.run(layoutCheckCommand(settings, candidates), { timeoutMs: settings.commandTimeoutMs });
  if (layout.code !== 0) {
    const problem = layout.stdout.trim();
    const text =
      problem === 'missing-target'
        ? `the target directory ${settings.target} does not exist`
        : problem === 'missing-start-file'
          ? `the start file ${start} does not exist`
          : problem === 'missing-php'
            ? `the PHP binary "${settings.php}" is not on the host's PATH (set the php input)`
            : problem === 'missing-rsync'
              ? 'rsync is not installed on the host (the sync needs it at both ends)'
              : `the layout check failed (exit ${layout.code}): ${(layout.stdout + layout.stderr).trim()}`;
    throw new StepError('preflight', `${text}; nothing was changed`);
  }
  const logFile = /^log=(.*)$/m.exec(layout.stdout)?.[1] ?? '';

  const source = new RemoteStatus({
    kind: settings.status,
    shell,
    settings,
    probe: {
      php: settings.php,
      startFile: start,
      pidFile: defaultPidFile(settings),
      logFile,
      statusUrl: settings.statusUrl,
      urlTimeoutMs: Math.min(5000, settings.commandTimeoutMs),
    },
  });
  const before = await source.snapshot();
  if (before.masters.length === 0) {
    throw new StepError(
      'preflight',
      `no Workerman master is running for ${start} (no process titled "master process  start_file=${start}", no live pid in its pid file); start it first. Nothing was changed: a reload now would exit 0 and prove nothing`,
    );
  }
  if (before.masters.length > 1) {
    throw new StepError('preflight', `${before.masters.length} masters run this app (pids ${before.masters.map((m) => m.pid).join(', ')}); nothing was changed`);
  }
  const masterPid = before.masters[0]!.pid;
  const signalCheck = await shell.run(canSignalCommand(masterPid), { timeoutMs: settings.commandTimeoutMs });
  if (signalCheck.code !== 0) {
    throw new StepError(
      'preflight',
      `${host.username} may not signal the master (pid ${masterPid}): ${signalCheck.stderr.trim() || 'permission denied'}. Deploy as the user the master runs as: "reload" would exit 0 and change nothing. Nothing was changed`,
    );
  }

  let table: Running | undefined;
  if (settings.status === 'workerman') {
    let report;
    try {
      report = await source.readTable();
    } catch (error) {
      if (error instanceof StatusParseError) throw new StepError('preflight', `${error.message}; nothing was changed`);
      throw error;
    }
    if (!report.running) {
      throw new StepError(
        'preflight',
        `"status" says "${report.text.split('\n').pop()}" although master pid ${masterPid} runs: check start-file and php. Nothing was changed`,
      );
    }
    table = report;
  }
  return { source, before, table, logFile };
}
