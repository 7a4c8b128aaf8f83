import type { RolloutSettings } from '../engine/inputs/settings.js';
import {
  batchPositions,
  describePlan,
  dryRunUnknowns,
  FileTally,
  plannedAction,
  plannedCommands,
  plannedGroups,
  type BatchPosition,
} from '../engine/plan/dry-run.js';
import { StepError } from '../engine/step-error.js';
import type { DryRunPlan, HostReport, PlannedFiles } from '../engine/report/report.js';
import type { HostRolloutIO, HostRun } from './context.js';
import { inParallel, PREFLIGHT_CONCURRENCY, type FleetHost, type FleetSettings } from './fleet-rollout.js';
import { listSnapshots, freeSpaceCheck } from './host-snapshot.js';
import { prepareHost, revisionField, type PreparedHost } from './host-rollout.js';
import { masterChangeOf, masterLevel, staleMaster } from './master-change-step.js';
import { protectRules } from './sync-step.js';

/**
 * A dry run of the fleet: every host is connected and preflighted as a deploy
 * would be (layout, definitions, master, signal right, free
 * space), then gets its plan. Nothing on a host changes: no lock (taking one
 * writes on the host, and a dry run must be safe to run beside a real
 * deploy), no snapshot, rsync only with --dry-run, no signal. `inSource` says
 * whether the source has a path (relative to it): how a would-be deletion is
 * told from a would-be change.
 */
export async function planFleet(
  hosts: readonly FleetHost[],
  fleet: FleetSettings,
  io: HostRolloutIO,
  inSource: (path: string) => boolean,
): Promise<HostReport[]> {
  const readOnlyChecks = async (run: HostRun) => {
    if (fleet.mode === 'deploy' && fleet.sync && fleet.neededBytes !== undefined) await freeSpaceCheck(run, await fleet.neededBytes);
    return { release: async () => undefined, waited: false };
  };
  const alone = hosts.length === 1;
  if (!alone) io.log.startGroup?.(`preflight of ${hosts.length} hosts: connect, check (dry run: no lock taken)`);
  const prepared = await inParallel(hosts, PREFLIGHT_CONCURRENCY, (host) => prepareHost(host.spec, host.settings, io, readOnlyChecks, alone));
  if (!alone) io.log.endGroup?.();
  const hooks = hosts[0]?.settings.hooks;
  const firstOnly = hooks !== undefined && hooks.beforeReload !== '' && hooks.beforeReloadOn === 'first';
  const positions = batchPositions(hosts, fleet.maxParallel, fleet.canary, firstOnly);
  try {
    const reports = await inParallel([...hosts.keys()], PREFLIGHT_CONCURRENCY, (index) => {
      const entry = prepared[index]!;
      return entry.ok ?
          planHost(entry.host, fleet, positions.get(hosts[index]!)!, inSource, !firstOnly || index === 0)
        : Promise.resolve({ ...entry.report, status: 'failed' as const });
    });
    const failed = reports.filter((report) => report.status === 'failed').length;
    if (failed > 0) io.log.warning(`dry run: ${failed} of ${hosts.length} host(s) would stop a deploy, and then no host would be changed`);
    io.log.info(`dry run: nothing was changed on any host. What a dry run cannot know: ${dryRunUnknowns(delivery(fleet)).join('; ')}`);
    return reports;
  } finally {
    await Promise.all(prepared.map((entry) => (entry.ok ? entry.host.finish() : undefined)));
  }
}

function delivery(fleet: FleetSettings): 'sync' | 'none' | 'rollback' {
  return (
    fleet.mode === 'rollback' ? 'rollback'
    : fleet.sync ? 'sync'
    : 'none'
  );
}

/** rsync --dry-run: the files the sync would write and delete, and which of them are master-level code. */
async function previewSync(prepared: PreparedHost, inSource: (path: string) => boolean): Promise<{ files: PlannedFiles; masterFiles: readonly string[] }> {
  const { run, checked } = prepared;
  const tally = new FileTally(inSource);
  const isMasterLevel = masterLevel(run, checked.definitions);
  const preview = await run.io.fileSync(run.shell, run.settings, protectRules(run, checked.definitions)).sync({
    dryRun: true,
    // Called for every path rsync itemizes: all are tallied, the master-level ones also reported back.
    watch: (path) => {
      tally.add(path);
      return isMasterLevel(path);
    },
  });
  return { files: tally.files, masterFiles: preview.watchedChanges ?? [] };
}

/** One host's plan. Never throws: a host that cannot be planned gets a failed report (still with nothing changed). */
async function planHost(
  prepared: PreparedHost,
  fleet: FleetSettings,
  batch: BatchPosition,
  inSource: (path: string) => boolean,
  runsBeforeReload: boolean,
): Promise<HostReport> {
  const { run, checked, clock, started } = prepared;
  const common = { host: run.label, ...revisionField(run.settings), filesChanged: false, signalled: false, masterPid: checked.masterPid };
  try {
    const stale = staleMaster(run, checked);
    const kind = delivery(fleet);
    let files: PlannedFiles | undefined;
    let snapshot: string | undefined;
    let masterFiles: readonly string[] = [];
    if (kind === 'rollback') {
      [snapshot] = await listSnapshots(run);
      if (snapshot === undefined) throw new StepError('rollback', 'no snapshot to roll back to on this host');
    } else if (kind === 'sync') {
      ({ files, masterFiles } = await previewSync(prepared, inSource));
    }
    const masterChange = masterChangeOf(run, checked.definitions, masterFiles, [], stale);
    const decided = plannedAction(masterChange, run.settings.onMasterChange);
    const plan: DryRunPlan = {
      batch,
      ...(files ? { files } : {}),
      ...(snapshot ? { snapshot } : {}),
      ...decided,
      masterChange,
      reloadMode: checked.plan.mode,
      reloadModeReason: checked.plan.modeReason,
      ...plannedGroups(checked.plan),
      commands: plannedCommands(kind === 'rollback' ? withoutHooks(run.settings) : run.settings, decided.action, runsBeforeReload),
      unknown: dryRunUnknowns(kind),
    };
    run.io.log.info(describePlan(run.label, plan));
    const durationMs = run.now() - started;
    if (plan.action === 'refuse') {
      return {
        ...common,
        ok: false,
        status: 'failed',
        step: 'preflight',
        error: `a deploy would stop here: ${plan.actionBecause}; nothing was changed (dry run)`,
        durationMs,
        dryRun: plan,
        phases: clock.phases,
      };
    }
    return { ...common, ok: true, status: 'planned', step: 'done', durationMs, dryRun: plan, phases: clock.phases };
  } catch (error) {
    const step = error instanceof StepError ? error.step : run.facts.step;
    const why = `${(error as Error).message ?? String(error)}; nothing was changed (dry run)`;
    return { ...common, ok: false, status: 'failed', step, error: why, durationMs: run.now() - started, phases: clock.phases };
  }
}

/** mode: rollback puts old code back: the commands meant for new code (before-reload, after-reload) do not run. */
function withoutHooks(settings: RolloutSettings): RolloutSettings {
  return { ...settings, hooks: { ...settings.hooks, beforeReload: '', afterReload: '' } };
}
