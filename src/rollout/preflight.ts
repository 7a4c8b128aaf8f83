import { StepError } from '../engine/ports.js';
import { planReload, type ReloadPlan } from '../engine/reload-plan.js';
import { startFilePath } from '../engine/settings.js';
import type { AppDefinitions } from '../engine/worker-definitions.js';
import type { StatusSource } from '../status/status-source.js';
import { definitionsCommand } from '../workerman/app-definitions.js';
import { canSignalCommand, layoutCheckCommand } from '../workerman/commands.js';
import { StatusParseError } from '../workerman/status-table.js';
import type { HostRun } from './context.js';
import { definitionsFrom } from './read-definitions.js';

export interface Preflight {
  readonly definitions: AppDefinitions;
  readonly plan: ReloadPlan;
  readonly source: StatusSource;
  readonly masterPid: number;
  readonly logFile: string;
}

const NOTHING_CHANGED = 'nothing was changed';

const LAYOUT_PROBLEMS: Record<string, (run: HostRun) => string> = {
  'missing-target': (run) => `the target directory ${run.settings.target} does not exist`,
  'missing-start-file': (run) => `the start file ${startFilePath(run.settings)} does not exist`,
  'missing-php': (run) => `the PHP binary "${run.settings.php}" is not on the host's PATH (set the php input)`,
  'missing-rsync': () => 'rsync is not installed on the host (the sync needs it at both ends)',
};

/** A log the probe can tail: a file path, not a stream or /dev/null. */
function tailableLog(run: HostRun, definitions: AppDefinitions): string {
  const path = run.settings.logFile !== '' ? run.settings.logFile : definitions.logFile;
  return path.startsWith('/') && path !== '/dev/null' ? path : '';
}

/**
 * Before anything changes: the layout is there, the start script can be
 * read (its worker definitions and runtime files), its master runs and the
 * deploy user may signal it. A reload would exit 0 and prove nothing in each
 * case this refuses.
 */
export async function preflight(run: HostRun): Promise<Preflight> {
  const { settings } = run;
  // The layout check and the definitions share one round trip; a missing piece stops it with exit 3.
  const result = await run.shell.run(`${layoutCheckCommand(settings)}; ${definitionsCommand(settings)}`, { timeoutMs: settings.commandTimeoutMs });
  const problem = result.code === 3 ? LAYOUT_PROBLEMS[result.stdout.trim()] : undefined;
  if (problem) throw new StepError('preflight', `${problem(run)}; ${NOTHING_CHANGED}`);
  const definitions = definitionsFrom(result, 'preflight', NOTHING_CHANGED);
  const plan = planReload(definitions, settings);
  const logFile = tailableLog(run, definitions);
  const source = run.io.statusSource(run.shell, { kind: settings.status, settings, pidFile: definitions.pidFile, logFile });
  const masterPid = await findMaster(run, source, definitions);
  await checkSignalRight(run, masterPid);
  if (settings.status === 'workerman') await checkStatusTable(source, masterPid);
  return { definitions, plan, source, masterPid, logFile };
}

async function findMaster(run: HostRun, source: StatusSource, definitions: AppDefinitions): Promise<number> {
  const start = startFilePath(run.settings);
  const before = await source.snapshot();
  if (before.masters.length === 0) {
    throw new StepError(
      'preflight',
      `no Workerman master is running for ${start} (no process titled "master process  start_file=${start}", no live pid in its pid file ${definitions.pidFile}); start it first. Nothing was changed: a reload now would exit 0 and prove nothing`,
    );
  }
  if (before.masters.length > 1) {
    throw new StepError('preflight', `${before.masters.length} masters run this app (pids ${before.masters.map((m) => m.pid).join(', ')}); ${NOTHING_CHANGED}`);
  }
  return before.masters[0]!.pid;
}

/** `reload` exits 0 even when the kernel refused its signal (the master runs as another user). */
async function checkSignalRight(run: HostRun, masterPid: number): Promise<void> {
  const check = await run.shell.run(canSignalCommand(masterPid), { timeoutMs: run.settings.commandTimeoutMs });
  if (check.code === 0) return;
  throw new StepError(
    'preflight',
    `${run.host.username} may not signal the master (pid ${masterPid}): ${check.stderr.trim() || 'permission denied'}. Deploy as the user the master runs as: "reload" would exit 0 and change nothing. Nothing was changed`,
  );
}

/** `status` run by the wrong php or start file says "not run" although the master runs: the crash counts would be missing. */
async function checkStatusTable(source: StatusSource, masterPid: number): Promise<void> {
  let report;
  try {
    report = await source.readTable();
  } catch (error) {
    if (error instanceof StatusParseError) throw new StepError('preflight', `${error.message}; ${NOTHING_CHANGED}`);
    throw error;
  }
  if (!report.running) {
    throw new StepError(
      'preflight',
      `"status" says "${report.text.split('\n').pop()}" although master pid ${masterPid} runs: check start-file and php. Nothing was changed`,
    );
  }
}
