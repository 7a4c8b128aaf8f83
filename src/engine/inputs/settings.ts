import type { HostSpec } from './host-spec.js';
import type { Amount } from './fleet-plan.js';
import type { HostKeyPin } from './known-hosts.js';

/** auto: graceful where old workers have requests to drain, quick where they have none (src/engine/plan/reload-plan.ts). */
export type ReloadMode = 'auto' | 'graceful' | 'quick';
export type StatusSourceKind = 'workerman' | 'http' | 'process';
export type OnGracefulTimeout = 'force' | 'fail';
/** What to do when the new code changes what the master itself loaded (src/engine/plan/master-change.ts). */
export type OnMasterChange = 'restart' | 'fail' | 'reload';

/**
 * Taking a host out of its load balancer around a restart (or every
 * rollout): commands run on the runner, in the workspace, with the host in
 * their environment. Empty commands: no load balancer to tell.
 */
export interface DrainSettings {
  readonly command: string;
  readonly undrainCommand: string;
  /** After a successful drain, before the stop: for load balancers that notice by health check. */
  readonly waitMs: number;
  /** restart: only around a restart; always: around every host's rollout. */
  readonly when: 'restart' | 'always';
}

/** Commands run on the host around the reload (issue: migrations before, warm-up after); empty: none. */
export interface HookSettings {
  /** After the sync, before the reload signal or the restart; on the first host only, or on each. */
  readonly beforeReload: string;
  readonly beforeReloadOn: 'first' | 'each';
  /** On each host once its new workers are proven. */
  readonly afterReload: string;
  readonly timeoutMs: number;
}

/** Credentials for the host's one SSH connection (commands and rsync alike). */
export interface Credentials {
  readonly privateKey?: string;
  readonly passphrase?: string;
  readonly password?: string;
  /** A running ssh-agent's socket (SSH_AUTH_SOCK). */
  readonly agentSocket?: string;
}

/** How host keys are checked: against pins, or (only when asked for in so many words) not at all. */
export interface HostTrust {
  readonly pins: readonly HostKeyPin[];
  readonly ignoreHostKeys: boolean;
}

/** Everything one host's rollout needs to know, already validated. */
export interface RolloutSettings {
  readonly source: string;
  readonly target: string;
  readonly exclude: readonly string[];
  /** Remote paths (rsync filter patterns) that the sync's --delete must never remove. */
  readonly protect: readonly string[];
  readonly startFile: string;
  readonly php: string;
  readonly reloadMode: ReloadMode;
  readonly status: StatusSourceKind;
  /** For status http: the app's JSON status URL, fetched on the host. */
  readonly statusUrl: string;
  /** The app log (absolute), or '' to look in Workerman's usual places. */
  readonly logFile: string;
  /** Expected revision, checked where the status source reports one. */
  readonly revision?: string;
  readonly gracefulTimeoutMs: number;
  readonly onGracefulTimeout: OnGracefulTimeout;
  readonly ignoreWorkers: readonly string[];
  readonly onMasterChange: OnMasterChange;
  /** A restart: how long old workers may finish the requests they hold before they are killed. */
  readonly stopTimeoutMs: number;
  readonly drain: DrainSettings;
  readonly hooks: HookSettings;
  /** Globs (relative to target) of files the master reads without include, e.g. .env. */
  readonly masterFiles: readonly string[];
  readonly timeoutMs: number;
  readonly settleMs: number;
  readonly pollIntervalMs: number;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** How a fleet is rolled out (issue: fleet): amounts are resolved against the host count by the fleet planner. */
export interface FleetOptions {
  readonly mode: 'deploy' | 'rollback';
  readonly sync: boolean;
  readonly maxParallel: Amount;
  readonly canary: boolean;
  readonly canarySettleMs: number;
  readonly maxFailures: Amount;
  readonly rollback: 'failed-hosts' | 'all' | 'none';
  readonly keepSnapshots: number;
  readonly lockTimeoutMs: number;
  readonly forceUnlock: boolean;
  /** This job's part of the host list, in a matrix. */
  readonly shard?: { readonly index: number; readonly count: number };
  /** The inventory file (relative to the workspace), or ''. */
  readonly inventory: string;
  /** Preflight every host and say what a deploy would do, changing nothing on any host (no lock, no snapshot, rsync --dry-run, no signal). */
  readonly dryRun: boolean;
}

export interface DeployPlan {
  readonly hosts: readonly HostSpec[];
  /** The username and port for hosts (in the inventory too) that name none. */
  readonly hostDefaults: { readonly username: string; readonly port: number };
  /** A bastion every connection goes through, host key checked like the targets'. */
  readonly jumpHost?: HostSpec;
  readonly trust: HostTrust;
  readonly credentials: Credentials;
  readonly rollout: RolloutSettings;
  readonly fleet: FleetOptions;
}

/** The remote start file, absolute. */
export function startFilePath(settings: Pick<RolloutSettings, 'target' | 'startFile'>): string {
  return `${settings.target.replace(/\/+$/, '')}/${settings.startFile}`;
}
