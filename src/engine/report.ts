import type { MasterChange } from './master-change.js';
import type { Step, SyncSummary } from './ports.js';
import type { WorkerProcess } from './worker-snapshot.js';
import type { ForcedStop } from './reload-watch.js';

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

/** What a restart cost, measured on the host (its clock): null where it could not be measured. */
export interface RestartCost {
  /** From the stop signal to every TCP port of the app listening again: the time new connections were refused. */
  readonly unservedMs: number | null;
  /** From the stop signal to the old master gone: the requests in hand finishing. */
  readonly stopMs: number | null;
  /** Client connections the stop closed (idle keep-alive, WebSocket): they reconnect to the new master. */
  readonly connectionsClosed: number | null;
  /** Old workers killed because they ran past stop-timeout. */
  readonly killedAfterStopTimeout: number;
}

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
