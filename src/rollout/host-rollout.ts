import type { HostSpec } from '../engine/host-spec.js';
import { definitionChanges, describeMasterChange, type MasterChange } from '../engine/master-change.js';
import { StepError } from '../engine/ports.js';
import type { HostReport } from '../engine/report.js';
import type { RolloutSettings } from '../engine/settings.js';
import { traced, type HostFacts, type HostRolloutIO, type HostRun } from './context.js';
import { decide, masterLevel, refuseMasterChange, staleMaster } from './master-change-step.js';
import { preflight, type Preflight } from './preflight.js';
import { restartStep } from './restart-step.js';
import { signalStep } from './signal-step.js';
import { sourceTransfer, syncStep, type Synced, type Transfer } from './sync-step.js';
import { verifyStep } from './verify-step.js';

export type { HostRolloutIO } from './context.js';

function describeApp(run: HostRun, checked: Preflight): void {
  const { definitions } = checked;
  run.io.log.info(
    `${run.label}: master ${checked.masterPid} running (Workerman ${definitions.workerman}); groups ${definitions.groups
      .map((group) => `${group.name}×${group.count}${group.reloadable ? '' : ' (not reloadable)'}`)
      .join(', ')}; ` + (checked.logFile ? `log ${checked.logFile}` : 'no app log to read'),
  );
}

/** The rolling reload: baseline, signal, and the watch that proves it. */
async function reloadReport(run: HostRun, checked: Preflight, started: number): Promise<HostReport> {
  const { facts, io, host, now } = run;
  const { source, plan } = checked;
  const { baseline, signalledAt } = await signalStep(run, source, plan);
  const outcome = await verifyStep(run, source, baseline);
  const common = {
    host: host.label,
    action: 'reload' as const,
    filesChanged: facts.filesChanged,
    signalled: facts.signalled,
    ...(facts.sync ? { sync: facts.sync } : {}),
    masterPid: baseline.masterPid,
    reloadMode: plan.mode,
    reloadModeReason: plan.modeReason,
    kept: baseline.kept.map(({ pid, group, keptBecause }) => ({ pid, group, keptBecause })),
    forced: outcome.forced,
    durationMs: now() - started,
    reloadMs: now() - signalledAt,
  };
  if (!outcome.ok) {
    for (const line of outcome.appErrors) io.log.error(`${host.label}: app log: ${line}`);
    return {
      ...common,
      ok: false,
      step: 'verify',
      reason: outcome.reason,
      error:
        outcome.message +
        (outcome.appErrors.length > 0 ? `. The app log says: ${outcome.appErrors[0]}` : '') +
        ` (${describeFacts(facts)}; ${outcome.replaced}/${baseline.tracked.length} old workers replaced)`,
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
}

/** A master-level change: stop, start, and the watch that proves the new master. */
async function restartReport(run: HostRun, checked: Preflight, synced: Synced, change: MasterChange, started: number): Promise<HostReport> {
  const why = describeMasterChange(change);
  const outcome = await restartStep(run, checked.source, checked.masterPid, synced.definitions, why);
  return {
    host: run.host.label,
    ok: true,
    step: 'done',
    action: 'restart',
    restartBecause: change,
    filesChanged: run.facts.filesChanged,
    signalled: true,
    ...(run.facts.sync ? { sync: run.facts.sync } : {}),
    masterPid: outcome.masterPid,
    previousMasterPid: checked.masterPid,
    stoppedWith: outcome.stoppedWith,
    workers: outcome.workers.map(({ pid, group }) => ({ pid, group })),
    durationMs: run.now() - started,
  };
}

/** What a failure leaves on the host, in words: files changed or not, reload signalled or not. */
export function describeFacts(facts: HostFacts): string {
  const files = !facts.filesChanged
    ? 'no file was changed'
    : facts.sync
      ? `files synced (${facts.sync.filesTransferred} sent, ${facts.sync.filesDeleted} deleted)`
      : 'the sync did not finish, so some files may have changed';
  const signal = facts.stopped ? 'the app was stopped for a restart' : facts.signalled ? 'the reload was signalled' : 'no reload was signalled';
  return `${files}; ${signal}`;
}

/** A host connected and checked (and locked, in a fleet), nothing changed yet. */
export interface PreparedHost {
  readonly run: HostRun;
  readonly checked: Preflight;
  readonly started: number;
  /** Releases what preparing took (lock, status source, connection); never throws. */
  readonly finish: () => Promise<void>;
}

export type Prepared = { readonly ok: true; readonly host: PreparedHost } | { readonly ok: false; readonly report: HostReport };

/** What happens to the live tree: new files from a transfer, or none (sync: false, the manual reload). */
export type Delivery = Transfer | 'none';

function failureReport(host: HostSpec, facts: HostFacts, error: unknown, started: number, now: () => number): HostReport {
  const stepError = error instanceof StepError ? error : new StepError(facts.step, (error as Error).message ?? String(error), { cause: error });
  const known = facts.filesChanged || facts.signalled || facts.stopped ? ` (${describeFacts(facts)})` : '';
  return {
    host: host.label,
    ok: false,
    step: stepError.step,
    error: stepError.message + known,
    filesChanged: facts.filesChanged,
    signalled: facts.signalled,
    ...(facts.sync ? { sync: facts.sync } : {}),
    durationMs: now() - started,
  };
}

/**
 * Connects and runs the preflight: nothing on the host changes. `guard`
 * runs right after connecting (a fleet takes the host's lock there) and
 * returns what to release at the end.
 */
export async function prepareHost(
  host: HostSpec,
  settings: RolloutSettings,
  io: HostRolloutIO,
  guard?: (run: HostRun) => Promise<() => Promise<void>>,
): Promise<Prepared> {
  const now = io.now ?? Date.now;
  const started = now();
  const facts: HostFacts = { step: 'connect', filesChanged: false, signalled: false };
  const releases: (() => Promise<unknown>)[] = [];
  const finish = async () => {
    for (const release of releases.reverse()) await release().catch(() => undefined);
    releases.length = 0;
  };
  try {
    io.log.info(`${host.label}: connecting`);
    const shell = await io.openShell(host);
    releases.push(() => shell.close());
    const run: HostRun = { host, label: host.label, settings, io, shell: traced(shell, io.log, host.label), now, facts };
    if (guard) releases.push(await guard(run));
    facts.step = 'preflight';
    const checked = await preflight(run);
    releases.push(async () => checked.source.stop());
    describeApp(run, checked);
    return { ok: true, host: { run, checked, started, finish } };
  } catch (error) {
    await finish();
    return { ok: false, report: failureReport(host, facts, error, started, now) };
  }
}

/**
 * Changes the host: delivers the files, then reloads, or restarts for a
 * master-level change, and proves it. Never throws: every outcome is a report.
 */
export async function deployHost(prepared: PreparedHost, delivery: Delivery = sourceTransfer(prepared.run), cancelled?: AbortSignal): Promise<HostReport> {
  const { checked, started } = prepared;
  const run: HostRun = cancelled ? { ...prepared.run, cancelled } : prepared.run;
  const { settings } = run;
  try {
    const stale = staleMaster(run, checked.definitions, checked.masterStartedAt);
    const watch = masterLevel(run, checked.definitions);
    if (settings.onMasterChange === 'fail' && delivery !== 'none') await refuseMasterChange(run, checked.definitions, stale);
    const synced: Synced =
      delivery === 'none' ? { definitions: checked.definitions, masterFilesChanged: [] } : await syncStep(run, checked.definitions, watch, delivery);
    const change = { files: synced.masterFilesChanged, definitions: definitionChanges(checked.definitions, synced.definitions), stale };
    if (decide(run, change) === 'restart') return await restartReport(run, checked, synced, change, started);
    return await reloadReport(run, checked, started);
  } catch (error) {
    return failureReport(run.host, run.facts, error, started, run.now);
  }
}

/**
 * One host's rollout on its own: connect, preflight, sync, then reload (or
 * restart), each its own function. It never throws; every outcome is a
 * report that says which step failed and what was left on the host.
 */
export async function rolloutHost(host: HostSpec, settings: RolloutSettings, io: HostRolloutIO): Promise<HostReport> {
  const prepared = await prepareHost(host, settings, io);
  if (!prepared.ok) return prepared.report;
  try {
    return await deployHost(prepared.host);
  } finally {
    await prepared.host.finish();
  }
}
