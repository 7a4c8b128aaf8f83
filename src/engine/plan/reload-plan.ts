/**
 * src/engine/plan/: reload or restart, decided before anything changes: this
 * file (the reload plan: which groups are replaced and kept, auto mode), the
 * master-level changes and the restart policy (master-change.ts), the app's
 * runtime files and the dry run's plan. Imported by the verdict, the report,
 * the rollout and the two front ends; it imports only src/engine/.
 */

import type { ReloadMode } from '../inputs/settings.js';
import { definitionFor, type AppDefinitions } from '../workers/worker-definitions.js';
import type { WorkerProcess } from '../workers/worker-snapshot.js';

/**
 * What a reload of this app will do, decided from the app's own worker
 * definitions before the signal: which groups the master replaces and in
 * which order, how many workers each must come back to, which it keeps, and
 * whether the reload is graceful or quick. Pure.
 */

export interface GroupPlan {
  readonly name: string;
  /** Listen address, `none` for a worker that does not listen. */
  readonly listen: string;
  readonly count: number;
  /** Position in the master's replacement order: definition order. */
  readonly order: number;
  /** Why the reload never waits for this group, or undefined when it is replaced. */
  readonly kept?: 'reloadable = false' | 'ignore-workers';
}

export interface ReloadPlan {
  /** The signal to send: graceful (SIGUSR2) or quick (SIGUSR1). */
  readonly mode: Exclude<ReloadMode, 'auto'>;
  readonly modeReason: string;
  /** With graceful under reload-mode auto: a non-listening worker holding the reload this long is stopped as a quick reload would. */
  readonly quickStopAfterMs?: number;
  /** Empty when the app's definitions are unknown; workers are then judged by what the status source says. */
  readonly groups: readonly GroupPlan[];
  readonly ignoreGroups: readonly string[];
}

/** A non-listening worker has no requests to drain; under auto it gets this long to leave by itself before SIGINT. */
export const AUTO_QUICK_STOP_AFTER_MS = 1000;

export function planReload(
  definitions: Pick<AppDefinitions, 'groups'> | undefined,
  settings: { readonly reloadMode: ReloadMode; readonly ignoreWorkers: readonly string[] },
): ReloadPlan {
  const groups: GroupPlan[] = (definitions?.groups ?? []).map((group, order) => {
    const kept =
      !group.reloadable ? 'reloadable = false'
      : settings.ignoreWorkers.includes(group.name) ? 'ignore-workers'
      : undefined;
    return { name: group.name, listen: group.listen, count: group.count, order, ...(kept ? { kept } : {}) };
  });
  const base = { groups, ignoreGroups: settings.ignoreWorkers };
  if (settings.reloadMode !== 'auto') return { ...base, mode: settings.reloadMode, modeReason: `reload-mode: ${settings.reloadMode}` };

  const replaced = groups.filter((group) => group.kept === undefined);
  const listening = replaced.filter((group) => group.listen !== 'none');
  const names = (list: readonly GroupPlan[]) => [...new Set(list.map((group) => group.name))].join(', ');
  if (replaced.length > 0 && listening.length === 0) {
    return {
      ...base,
      mode: 'quick',
      modeReason: `auto: no replaced group listens (${names(replaced)}), so there are no requests to drain, and a graceful stop would wait forever on their own connections`,
    };
  }
  const quiet = replaced.filter((group) => group.listen === 'none');
  return {
    ...base,
    mode: 'graceful',
    modeReason:
      definitions === undefined ? 'auto: the app definitions are unknown' : (
        `auto: ${names(listening)} listen${listening.length === 1 ? 's' : ''}, so old workers finish their requests` +
        (quiet.length > 0 ? `; ${names(quiet)} (not listening) get SIGINT if they hold the reload for ${AUTO_QUICK_STOP_AFTER_MS / 1000} s` : '')
      ),
    ...(quiet.length > 0 ? { quickStopAfterMs: AUTO_QUICK_STOP_AFTER_MS } : {}),
  };
}

/** The plan's group for a worker (by name, and listen address where the title gives one). */
export function groupPlanFor(plan: ReloadPlan, worker: Pick<WorkerProcess, 'group' | 'listen'>): GroupPlan | undefined {
  return definitionFor(plan.groups, { name: worker.group, listen: worker.listen });
}

/** Why the reload never waits for this worker, or undefined when the master replaces it. */
export function keptBecause(plan: ReloadPlan, worker: WorkerProcess): string | undefined {
  if (plan.ignoreGroups.includes(worker.group)) return 'ignore-workers';
  if (worker.reloadable === false) return 'reloadable = false';
  return groupPlanFor(plan, worker)?.kept;
}

/**
 * Workers matched to no group the app defines (a title that does not parse,
 * or a name the definitions lack). Empty when the definitions are unknown:
 * the status source then speaks for every worker. Signalling such a worker
 * could stop one the master never replaces, so the rollout refuses instead.
 */
export function unmatchedWorkers(plan: ReloadPlan, workers: readonly WorkerProcess[]): WorkerProcess[] {
  if (plan.groups.length === 0) return [];
  return workers.filter((worker) => !plan.ignoreGroups.includes(worker.group) && worker.reloadable !== false && groupPlanFor(plan, worker) === undefined);
}

/** Why a rollout refuses workers it cannot match, naming each one's title as read (escaped) and the groups it knows. */
export function describeUnmatched(plan: ReloadPlan, unmatched: readonly WorkerProcess[]): string {
  const titles = unmatched
    .slice(0, 5)
    .map((worker) => `pid ${worker.pid} ${JSON.stringify(worker.listen === undefined ? worker.group : `${worker.group} ${worker.listen}`)}`);
  const more = unmatched.length > 5 ? ` and ${unmatched.length - 5} more` : '';
  const known = plan.groups.map((group) => JSON.stringify(`${group.name} ${group.listen}`)).join(', ');
  return (
    `${unmatched.length} worker(s) match none of the app's worker definitions (${titles.join(', ')}${more}; defined: ${known}). ` +
    'A worker the action cannot match is never signalled: it may be one the master keeps (reloadable = false)'
  );
}
