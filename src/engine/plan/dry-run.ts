import { planBatches } from '../inputs/fleet-plan.js';
import { shownCommand } from '../shown-text.js';
import { describeMasterChange, needsRestart, type MasterChange } from './master-change.js';
import type { ReloadPlan } from './reload-plan.js';
import type { OnMasterChange, RolloutSettings } from '../inputs/settings.js';

/** Files a dry run's sync would touch, relative to the target: full counts, and the first names of each list. */
export interface PlannedFiles {
  /** New or changed files and symlinks the sync would write. */
  readonly changed: number;
  /** Files and directories the sync would delete (--delete). */
  readonly deleted: number;
  /** The first changed paths, in rsync's order (at most DRY_RUN_NAMES_SHOWN). */
  readonly changedNames: readonly string[];
  /** The first deleted paths (a directory ends in /), at most DRY_RUN_NAMES_SHOWN. */
  readonly deletedNames: readonly string[];
}

/**
 * What a dry run found one host would get, with nothing on the host changed:
 * no lock, no snapshot, no file, no signal. The new tree's worker definitions
 * are only known after a sync, so `unknown` says what the plan cannot promise.
 */
export interface DryRunPlan {
  /** The host's place in the rollout: batch `index` of `of` (from 1); canary: it goes first, alone, and is watched before the rest. */
  readonly batch: { readonly index: number; readonly of: number; readonly canary: boolean };
  /** What the sync would do; absent when no files go out (sync: false, or mode: rollback). */
  readonly files?: PlannedFiles;
  /** mode: rollback: the snapshot that would be put back. */
  readonly snapshot?: string;
  /** reload; restart (a master-level change, on-master-change: restart); refuse (on-master-change: fail would stop before changing anything). */
  readonly action: 'reload' | 'restart' | 'refuse';
  /** Why, in words. */
  readonly actionBecause: string;
  /** What the decision rests on: master-level files the sync would change, and files newer than the running master (definitions stay empty: unknown before a sync). */
  readonly masterChange: MasterChange;
  /** A reload's signal (graceful or quick) and why, from the running app's definitions. */
  readonly reloadMode: 'graceful' | 'quick';
  readonly reloadModeReason: string;
  /** Worker groups the reload would replace, and those it would keep (with why). */
  readonly replacedGroups: readonly string[];
  readonly keptGroups: readonly { readonly group: string; readonly keptBecause: string }[];
  /** The user's commands a deploy would run on this host (drain, before-reload, after-reload, undrain), named; none is run. */
  readonly commands: readonly string[];
  /** What only the real deploy can tell, in words. */
  readonly unknown: readonly string[];
}

/**
 * A dry run's plan for a host, from what preflight read and what rsync
 * --dry-run said, with nothing changed. Pure.
 */

/** Names a dry run lists of each of changed and deleted files; the counts cover the rest. */
export const DRY_RUN_NAMES_SHOWN = 50;

/**
 * The paths of rsync's itemized dry run, sorted into the files the sync would
 * write and those it would delete. rsync deletes only what the source lacks,
 * so a path the source has is a change and one it lacks a deletion.
 */
export class FileTally {
  private changed = 0;
  private deleted = 0;
  private readonly changedNames: string[] = [];
  private readonly deletedNames: string[] = [];

  constructor(private readonly inSource: (path: string) => boolean) {}

  add(path: string): void {
    if (this.inSource(path)) {
      this.changed += 1;
      if (this.changedNames.length < DRY_RUN_NAMES_SHOWN) this.changedNames.push(path);
    } else {
      this.deleted += 1;
      if (this.deletedNames.length < DRY_RUN_NAMES_SHOWN) this.deletedNames.push(path);
    }
  }

  get files(): PlannedFiles {
    return { changed: this.changed, deleted: this.deleted, changedNames: [...this.changedNames], deletedNames: [...this.deletedNames] };
  }
}

export type BatchPosition = DryRunPlan['batch'];

/** Where each host falls in the rollout, as the fleet would run it: planBatches' batches, the canary first and alone. */
export function batchPositions<T>(hosts: readonly T[], maxParallel: number, canary: boolean, firstAlone = false): Map<T, BatchPosition> {
  const withCanary = canary && hosts.length > 1;
  const batches = planBatches(hosts, maxParallel, withCanary || firstAlone);
  const positions = new Map<T, BatchPosition>();
  batches.forEach((batch, index) => {
    for (const host of batch) positions.set(host, { index: index + 1, of: batches.length, canary: withCanary && index === 0 });
  });
  return positions;
}

/** Reload, restart or refuse, as the real deploy would decide from the master-level changes a dry run can see. */
export function plannedAction(change: MasterChange, onMasterChange: OnMasterChange): Pick<DryRunPlan, 'action' | 'actionBecause'> {
  if (!needsRestart(change)) {
    return { action: 'reload', actionBecause: 'no master-level file would change and the running master is not older than its code' };
  }
  const what = describeMasterChange(change);
  switch (onMasterChange) {
    case 'restart':
      return { action: 'restart', actionBecause: `${what} (on-master-change: restart)` };
    case 'reload':
      return { action: 'reload', actionBecause: `${what}, but on-master-change: reload reloads anyway and the master keeps the old code` };
    case 'fail':
      return { action: 'refuse', actionBecause: `${what}: on-master-change: fail would stop the deploy before changing anything` };
  }
}

/** The user's commands a deploy would run on this host, in order, named; a dry run runs none of them. */
export function plannedCommands(settings: Pick<RolloutSettings, 'drain' | 'hooks'>, action: DryRunPlan['action'], runsBeforeReload: boolean): string[] {
  const { drain, hooks } = settings;
  const drains = drain.command !== '' && action !== 'refuse' && (drain.when === 'always' || action === 'restart');
  const drainFirst = drains ? [`drain-command on the runner: ${shownCommand(drain.command)}`] : [];
  const before = hooks.beforeReload !== '' && runsBeforeReload ? [`before-reload on the host: ${shownCommand(hooks.beforeReload)}`] : [];
  return [
    // drain: always takes the host out before the sync; a restart's drain comes right before the stop.
    ...(drain.when === 'always' ? [...drainFirst, ...before] : [...before, ...drainFirst]),
    ...(hooks.afterReload !== '' ? [`after-reload on the host: ${shownCommand(hooks.afterReload)}`] : []),
    ...(drains && drain.undrainCommand !== '' ? [`undrain-command on the runner: ${shownCommand(drain.undrainCommand)}`] : []),
  ];
}

/** What the plan cannot promise, for this kind of run. */
export function dryRunUnknowns(delivery: 'sync' | 'none' | 'rollback'): string[] {
  const unknown: string[] = [];
  if (delivery === 'sync') {
    unknown.push(
      "the new code's worker definitions (groups, counts, listen addresses): they are read from the synced tree, and a change there makes the deploy restart where this plan says reload",
    );
  }
  if (delivery === 'rollback') {
    unknown.push('which files the snapshot would put back, and so whether master-level code changes back (a restart)');
  }
  unknown.push('whether the new workers start and serve: no signal is sent, so nothing is verified');
  return unknown;
}

/** The groups a reload would replace and those it would keep, from the reload plan. */
export function plannedGroups(plan: Pick<ReloadPlan, 'groups'>): Pick<DryRunPlan, 'replacedGroups' | 'keptGroups'> {
  return {
    replacedGroups: plan.groups.filter((group) => group.kept === undefined).map((group) => group.name),
    keptGroups: plan.groups.flatMap((group) => (group.kept === undefined ? [] : [{ group: group.name, keptBecause: group.kept }])),
  };
}

/** `web1: dry run: batch 1 of 2 (the canary); would write 3 file(s) (a.php, ...) and delete 1 (old.php); then reload: ...`. */
export function describePlan(label: string, plan: DryRunPlan): string {
  const names = (list: readonly string[], count: number) =>
    list.length === 0 ? '' : ` (${list.join(', ')}${count > list.length ? ` and ${count - list.length} more` : ''})`;
  const parts = [`batch ${plan.batch.index} of ${plan.batch.of}${plan.batch.canary ? ' (the canary)' : ''}`];
  if (plan.files) {
    const { changed, deleted, changedNames, deletedNames } = plan.files;
    parts.push(`would write ${changed} file(s)${names(changedNames, changed)} and delete ${deleted}${names(deletedNames, deleted)}`);
  }
  if (plan.snapshot) parts.push(`would put back ${plan.snapshot}`);
  const action = plan.action === 'reload' ? `reload (${plan.reloadMode}: ${plan.reloadModeReason})` : plan.action;
  parts.push(`then ${action}, because ${plan.actionBecause}`);
  if (plan.commands.length > 0) parts.push(`would run: ${plan.commands.join('; ')}`);
  return `${label}: dry run: ${parts.join('; ')}`;
}
