/**
 * src/engine/report/: what a run says afterwards: this file (each host's
 * report, the action's report output), each host's outcome in words, host text
 * sealed for a log and a host's last output lines. Imported by the rollout,
 * the run and the two front ends; it imports only src/engine/.
 */

import type { MasterChange } from '../plan/master-change.js';
import type { SyncSummary } from '../ports.js';
import type { Step } from '../step-error.js';
import type { WorkerProcess } from '../workers/worker-snapshot.js';
import type { ForcedStop } from '../verdict/verdict.js';
import type { DryRunPlan, PlannedFiles } from '../plan/dry-run.js';
import type { RestartCost } from '../verdict/restart-verdict.js';

export type { DryRunPlan, PlannedFiles, RestartCost };

export interface WorkerReplacement {
  readonly group: string;
  readonly oldPid: number;
}

/** A stretch of one host's rollout, for the timeline. */
export type PhaseName = 'preflight' | 'snapshot' | 'sync' | 'reload' | 'restart' | 'verify' | 'canary' | 'rollback';

/** One phase of a host's rollout: when it ran (epoch ms, the runner's clock) and whether it ended well. */
export interface Phase {
  readonly name: PhaseName;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
}

/**
 * ok; failed (and left as it is); rolled-back (failed, then its snapshot was
 * put back and verified); skipped or cancelled (never changed); planned (a dry
 * run: preflighted, its plan in `dryRun`, nothing changed).
 */
export type HostStatus = 'ok' | 'failed' | 'rolled-back' | 'skipped' | 'cancelled' | 'planned';

/**
 * One command the user gave, run around the rollout: on the runner
 * (drain-command, undrain-command) or on the host (before-reload,
 * after-reload).
 */
export interface CommandRecord {
  readonly name: 'drain' | 'undrain' | 'before-reload' | 'after-reload';
  readonly ok: boolean;
  /** `exit 0`, `exit 1`, `timed out after 15.0 s`... */
  readonly exit: string;
  readonly durationMs: number;
  /** The last lines it printed, stdout and stderr together (each cut to LINE_CHARS). */
  readonly lastLines: readonly string[];
}

/** One entry of the `report` output: what happened on one host, in plain data. */
export interface HostReport {
  readonly host: string;
  readonly ok: boolean;
  /** In a fleet's report: where the host ended. */
  readonly status?: HostStatus;
  /** Why a skipped or cancelled host was never changed. */
  readonly skippedBecause?: string;
  /** The snapshot of the live tree taken before the sync. */
  readonly snapshot?: string;
  /** The rollback after a failure: verified, or why not. */
  readonly rollback?: { readonly ok: boolean; readonly snapshot: string; readonly action?: 'reload' | 'restart'; readonly error?: string };
  /** The step that failed, or 'done'. */
  readonly step: Step | 'done';
  readonly error?: string;
  /** For a failed verify: crash-loop, pinned, no-progress, timeout, master-gone, ... */
  readonly reason?: string;
  /** What the host got: the rolling reload, or a restart for a master-level change. */
  readonly action?: 'reload' | 'restart';
  /** Why a restart was needed: master-level files changed, definitions changed, or a stale master. */
  readonly restartBecause?: MasterChange;
  /** The master a restart replaced, and what the restart cost the app's users. */
  readonly previousMasterPid?: number;
  readonly restartCost?: RestartCost;
  /** The user's commands run for this host, in order: drain, before-reload, after-reload, undrain. */
  readonly commands?: readonly CommandRecord[];
  /** The host was taken out of its load balancer and not put back: it does not serve, or undrain-command failed. */
  readonly leftDrained?: boolean;
  /** Whether any file on the host may have changed. */
  readonly filesChanged: boolean;
  /** Whether the reload signal (or a restart's stop) was sent. */
  readonly signalled: boolean;
  /** The reload sent (graceful or quick), and why (reload-mode auto decides from the app's definitions). */
  readonly reloadMode?: 'graceful' | 'quick';
  readonly reloadModeReason?: string;
  readonly sync?: SyncSummary;
  readonly masterPid?: number;
  readonly replaced?: readonly WorkerReplacement[];
  readonly workers?: readonly Pick<WorkerProcess, 'pid' | 'group'>[];
  /** Workers the reload leaves running: reloadable = false, or ignore-workers. */
  readonly kept?: readonly (Pick<WorkerProcess, 'pid' | 'group'> & { readonly keptBecause: string })[];
  readonly stillOld?: readonly Pick<WorkerProcess, 'pid' | 'group'>[];
  /** Old workers stopped to unpin a graceful reload (on-graceful-timeout: force). */
  readonly forced?: readonly ForcedStop[];
  readonly durationMs: number;
  readonly reloadMs?: number;
  /** The revision deployed, as checked where workers report one (the revision input, or GITHUB_SHA). */
  readonly revision?: string;
  /** A reload's count of old workers replaced out of those it had to replace, on a failure too. */
  readonly replacement?: { readonly replaced: number; readonly of: number };
  /** For a failed reload: the app's distinct PHP error lines after the signal, most frequent first. */
  readonly appErrors?: readonly string[];
  /** dry-run: true: the plan for this host (status planned, or failed when the real deploy would be refused). */
  readonly dryRun?: DryRunPlan;
  /** The host's phases in order (preflight, snapshot, sync, reload or restart, verify, canary, rollback), as far as it got. */
  readonly phases?: readonly Phase[];
}
