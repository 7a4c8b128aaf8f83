import type { HostSpec } from './host-spec.js';
import { StepError, type FileSync, type RemoteShell, type RolloutLog, type SyncSummary } from './ports.js';
import type { HostReport } from './report.js';
import { watchReload } from './reload-watch.js';
import type { RolloutSettings } from './settings.js';
import { startFilePath } from './settings.js';
import { BaselineError, takeBaseline, type ReloadBaseline } from './verdict.js';
import type { HostSnapshot } from './worker-snapshot.js';
import { defaultPidFile, layoutCheckCommand, reloadCommand, statusCommand } from '../workerman/commands.js';
import { parseProbeOutput, probeCommand, ProbeParseError } from '../workerman/process-probe.js';
import { parseStatusTable, StatusParseError } from '../workerman/status-table.js';

export interface HostRolloutIO {
  readonly openShell: (host: HostSpec) => Promise<RemoteShell>;
  readonly fileSync: (host: HostSpec) => FileSync;
  readonly log: RolloutLog;
  readonly now?: () => number;
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
  let filesChanged = false;
  let sync: SyncSummary | undefined;
  try {
    io.log.info(`${label}: connecting`);
    shell = await io.openShell(host);
    const remote = shell;

    const snapshot = async (): Promise<HostSnapshot> => {
      const result = await remote.run(probeCommand(settings.php, startFilePath(settings), defaultPidFile(settings)), {
        timeoutMs: settings.commandTimeoutMs,
      });
      if (result.code !== 0) throw new StepError('verify', `the process probe failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
      try {
        return parseProbeOutput(result.stdout);
      } catch (error) {
        if (error instanceof ProbeParseError) throw new StepError('verify', error.message);
        throw error;
      }
    };

    await preflight(remote, settings, label, io.log, snapshot);

    io.log.info(`${label}: syncing ${settings.source} to ${settings.target}`);
    filesChanged = true;
    sync = await io.fileSync(host).sync();
    io.log.info(`${label}: ${sync.filesTransferred} file(s) sent, ${sync.filesDeleted} deleted`);

    let baseline: ReloadBaseline;
    try {
      baseline = takeBaseline(await snapshot(), { ignoreGroups: settings.ignoreWorkers });
    } catch (error) {
      if (error instanceof BaselineError) throw new StepError('signal', `${error.message}; the files were synced but no reload was sent`);
      throw error;
    }
    io.log.info(
      `${label}: master ${baseline.masterPid}, ${baseline.tracked.length} worker(s) to replace` +
        (baseline.kept.length > 0 ? `, ${baseline.kept.length} kept (${[...new Set(baseline.kept.map((w) => w.group))].join(', ')})` : ''),
    );

    const signalStarted = now();
    const reload = await remote.run(reloadCommand(settings, settings.reloadMode), { timeoutMs: settings.commandTimeoutMs });
    if (/\bnot run\b/.test(reload.stdout) || reload.code !== 0) {
      throw new StepError('signal', `"${settings.php} ${settings.startFile} reload" did not reach a master (exit ${reload.code}): ${(reload.stdout + reload.stderr).trim()}`);
    }
    io.log.info(`${label}: ${settings.reloadMode} reload signalled; watching workers`);

    const outcome = await watchReload({
      label,
      baseline,
      rules: { ignoreGroups: settings.ignoreWorkers, settleMs: settings.settleMs },
      timeoutMs: settings.timeoutMs,
      pollIntervalMs: settings.pollIntervalMs,
      snapshot,
      log: io.log,
      now,
    });
    const reloadMs = now() - signalStarted;
    const common = {
      host: label,
      filesChanged,
      sync,
      masterPid: baseline.masterPid,
      kept: baseline.kept.map(({ pid, group }) => ({ pid, group })),
      durationMs: now() - started,
      reloadMs,
    };
    if (!outcome.ok) {
      return { ...common, ok: false, step: 'verify', error: outcome.message, stillOld: outcome.stillOld.map(({ pid, group }) => ({ pid, group })) };
    }
    return {
      ...common,
      ok: true,
      step: 'done',
      replaced: baseline.tracked.map(({ pid, group }) => ({ group, oldPid: pid })),
      workers: outcome.verdict.workers.map(({ pid, group }) => ({ pid, group })),
    };
  } catch (error) {
    const stepError = error instanceof StepError ? error : new StepError('verify', (error as Error).message ?? String(error), { cause: error });
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
    await shell?.close().catch(() => undefined);
  }
}

/** Refuses to touch a host whose master is not running: `reload` would exit 0 and prove nothing. */
async function preflight(
  shell: RemoteShell,
  settings: RolloutSettings,
  label: string,
  log: RolloutLog,
  snapshot: () => Promise<HostSnapshot>,
): Promise<void> {
  const layout = await shell.run(layoutCheckCommand(settings), { timeoutMs: settings.commandTimeoutMs });
  if (layout.code !== 0) {
    const problem = layout.stdout.trim();
    const text =
      problem === 'missing-target'
        ? `the target directory ${settings.target} does not exist`
        : problem === 'missing-start-file'
          ? `the start file ${startFilePath(settings)} does not exist`
          : problem === 'missing-php'
            ? `the PHP binary "${settings.php}" is not on the host's PATH (set the php input)`
            : `the layout check failed (exit ${layout.code}): ${(layout.stdout + layout.stderr).trim()}`;
    throw new StepError('preflight', `${text}; nothing was changed`);
  }

  const status = await shell.run(statusCommand(settings), { timeoutMs: settings.commandTimeoutMs });
  let report;
  try {
    report = parseStatusTable(status.stdout);
  } catch (error) {
    if (error instanceof StatusParseError) throw new StepError('preflight', `${error.message}; nothing was changed`);
    throw error;
  }
  if (!report.running) {
    throw new StepError(
      'preflight',
      `no Workerman master is running for ${startFilePath(settings)} ("status" says: ${report.text.split('\n').pop()}); start it first. Nothing was changed: a reload now would exit 0 and prove nothing`,
    );
  }
  const before = await snapshot();
  if (before.masters.length !== 1) {
    throw new StepError(
      'preflight',
      before.masters.length === 0
        ? `"status" answered, but no master process titled "master process  start_file=${startFilePath(settings)}" was found; nothing was changed`
        : `${before.masters.length} masters run this app (pids ${before.masters.map((m) => m.pid).join(', ')}); nothing was changed`,
    );
  }
  log.info(
    `${label}: master ${before.masters[0]!.pid} running${report.workermanVersion ? ` (Workerman ${report.workermanVersion})` : ''}, ${before.workers.length} worker(s)`,
  );
}
