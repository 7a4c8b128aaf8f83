import type { LoadedRecord } from '../engine/plan/master-change.js';
import { StepError } from '../engine/step-error.js';
import { describeUnmatched, planReload, unmatchedWorkers, type ReloadPlan } from '../engine/plan/reload-plan.js';
import { startFilePath } from '../engine/inputs/settings.js';
import type { AppDefinitions } from '../engine/workers/worker-definitions.js';
import type { MasterProcess } from '../engine/workers/worker-snapshot.js';
import type { StatusSource } from '../status/status-source.js';
import { definitionsCommand } from '../workerman/app-definitions.js';
import { canSignalCommand, layoutCheckCommand } from '../workerman/commands.js';
import type { HostRun } from './context.js';
import { parseRecord, recordReadCommand } from './master-record.js';
import { definitionsFrom } from './read-definitions.js';

export interface Preflight {
  readonly definitions: AppDefinitions;
  readonly plan: ReloadPlan;
  readonly source: StatusSource;
  readonly masterPid: number;
  /** Host time the running master started, where the source knows it. */
  readonly masterStartedAt: number | undefined;
  /** What the running master loaded, from the host's record; undefined when there is none for this master. */
  readonly record: LoadedRecord | undefined;
  readonly logFile: string;
}

const NOTHING_CHANGED = 'nothing was changed';

const LAYOUT_PROBLEMS: Record<string, (run: HostRun) => string> = {
  'missing-target': (run) => `the target directory ${run.settings.target} does not exist`,
  'missing-start-file': (run) => `the start file ${startFilePath(run.settings)} does not exist`,
  'missing-php': (run) => `the PHP binary "${run.settings.php}" is not on the host's PATH (set the php input)`,
  'missing-rsync': () => 'rsync is not installed on the host (the sync needs it at both ends)',
};

/** A log the probe can tail: a file path, not a stream or /dev/null; `process` reads /proc only. */
function tailableLog(run: HostRun, definitions: AppDefinitions): string {
  if (run.settings.status === 'process') return '';
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
  // The layout check, the definitions and the record share one round trip; a missing piece stops it with exit 3.
  const command = `${layoutCheckCommand(settings)}; ${definitionsCommand(settings)}\n${recordReadCommand(settings.target)}`;
  const result = await run.shell.run(command, { timeoutMs: settings.commandTimeoutMs });
  const problem = result.code === 3 ? LAYOUT_PROBLEMS[result.stdout.trim()] : undefined;
  if (problem) throw new StepError('preflight', `${problem(run)}; ${NOTHING_CHANGED}`);
  const definitions = definitionsFrom(result, 'preflight', NOTHING_CHANGED);
  const plan = planReload(definitions, settings);
  const logFile = tailableLog(run, definitions);
  const source = run.io.statusSource(run.shell, { kind: settings.status, settings, pidFile: definitions.pidFile, logFile });
  let master: MasterProcess;
  try {
    master = await findMaster(run, source, definitions, plan);
    await checkSignalRight(run, master.pid);
  } catch (error) {
    // The source keeps a probe running on the host: a refused preflight ends it.
    source.stop();
    throw error;
  }
  warnAboutOpcache(run, definitions);
  const recorded = parseRecord(result.stdout, master.pid);
  if ('missing' in recorded) run.io.log.debug(`${run.label}: no record of what master ${master.pid} loaded: ${recorded.missing}`);
  return {
    definitions,
    plan,
    source,
    masterPid: master.pid,
    masterStartedAt: master.startedAt,
    record: 'record' in recorded ? recorded.record : undefined,
    logFile,
  };
}

async function findMaster(run: HostRun, source: StatusSource, definitions: AppDefinitions, plan: ReloadPlan): Promise<MasterProcess> {
  const start = startFilePath(run.settings);
  const before = await source.snapshot();
  const elsewhere = before.elsewhere ?? [];
  if (before.masters.length === 0 && elsewhere.length > 0) {
    const other = elsewhere[0]!;
    throw new StepError(
      'preflight',
      `the master (pid ${other.pid}) runs ${other.startFile}, but ${start} is ${definitions.startFile} now: ${run.settings.target} points to another release ` +
        '(a switched symlink?). PHP resolved the old path when the master started, so a reload would keep loading the old release. ' +
        `Sync in place into the directory the master runs from (target: ${other.startFile.slice(0, -run.settings.startFile.length - 1)}), or restart the app from the new one. Nothing was changed`,
    );
  }
  if (before.masters.length === 0) {
    throw new StepError(
      'preflight',
      `no Workerman master is running for ${start} (no process titled "master process  start_file=${start}", no live pid in its pid file ${definitions.pidFile}); start it first. Nothing was changed: a reload now would exit 0 and prove nothing`,
    );
  }
  if (before.masters.length > 1) {
    throw new StepError('preflight', `${before.masters.length} masters run this app (pids ${before.masters.map((m) => m.pid).join(', ')}); ${NOTHING_CHANGED}`);
  }
  const unmatched = unmatchedWorkers(plan, before.workers);
  if (unmatched.length > 0) throw new StepError('preflight', `${describeUnmatched(plan, unmatched)}; ${NOTHING_CHANGED}`);
  return before.masters[0]!;
}

/** New workers compile the new files, unless the CLI's OPcache serves old bytecode without checking. */
function warnAboutOpcache(run: HostRun, definitions: AppDefinitions): void {
  const { opcache } = definitions;
  if (!opcache.loaded || !opcache.enableCli || opcache.validateTimestamps) return;
  run.io.log.warning(
    `${run.label}: PHP's CLI runs OPcache with opcache.validate_timestamps=0 (opcache.enable_cli=1): new workers may run bytecode cached before this deploy. Set opcache.validate_timestamps=1 for the CLI, or restart the app after deploying`,
  );
}

/** A signal the kernel refuses (the master runs as another user) would leave new files on disk and the old code running. */
async function checkSignalRight(run: HostRun, masterPid: number): Promise<void> {
  const check = await run.shell.run(canSignalCommand(masterPid), { timeoutMs: run.settings.commandTimeoutMs });
  if (check.code === 0) return;
  throw new StepError(
    'preflight',
    `${run.host.username} may not signal the master (pid ${masterPid}): ${check.stderr.trim() || 'permission denied'}. Deploy as the user the master runs as: "reload" would exit 0 and change nothing. Nothing was changed`,
  );
}
