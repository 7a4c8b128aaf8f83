/**
 * src/run/: one deployment, from the source check to the fleet's reports
 * (this file), and the two-stage cancel (cancel.ts): what the action and the
 * command-line tool share. Imported by src/action/ and src/cli/ only.
 */

import { lstatSync, type Dirent } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readBoundedText, unreadable } from '../adapters/bounded-file.js';
import { openTransport } from '../adapters/transport.js';
import { fleetHosts, resolveFleetAmounts } from '../engine/inputs/fleet-hosts.js';
import { InputError } from '../engine/inputs/input-error.js';
import type { RolloutLog } from '../engine/ports.js';
import type { HostReport } from '../engine/report/report.js';
import type { DeployPlan } from '../engine/inputs/settings.js';
import { sourceStartFileError } from '../engine/inputs/source-check.js';
import { planFleet } from '../rollout/dry-run.js';
import { rolloutFleet, type FleetHost, type FleetSettings } from '../rollout/fleet-rollout.js';
import type { LockOwner } from '../rollout/host-lock.js';
import { realRolloutIO } from '../rollout/real-io.js';

/**
 * What a run on a runner or a laptop tells the shared deployment: where the
 * files are, who it is, where its log goes, and how it is cancelled.
 */
export interface DeploymentContext {
  /** Relative source and inventory paths are resolved against it. */
  readonly workspace: string;
  readonly lockOwner: LockOwner;
  readonly log: RolloutLog;
  /** Multi-line debug text (the rsync command lines), line breaks kept. */
  readonly debugText?: (text: string) => void;
  /** No new host starts once aborted. */
  readonly cancelled?: AbortSignal;
  /** After a cancel: when the hosts in flight stop watching. */
  readonly watchesEnd?: AbortSignal;
  /** The rollout of these hosts begins (after every check that needs no host). */
  readonly rolloutStarts?: (hosts: readonly FleetHost[]) => void;
  /** Each host's report as soon as it is known, so a run cut short can still write them. */
  readonly hostReported?: (report: HostReport) => void;
}

/** The files of the source tree, but for the repository's history, which is never deployed (exclude .git/ by default). */
async function sourceFiles(directory: string): Promise<Dirent[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && !`${entry.parentPath}/`.includes('/.git/'));
}

/** The bytes of these files: the most a sync can write on a host. */
async function sourceBytes(files: readonly Dirent[]): Promise<number> {
  let total = 0;
  for (const file of files) total += (await lstat(join(file.parentPath, file.name))).size;
  return total;
}

async function readInventory(workspace: string, path: string): Promise<string | undefined> {
  if (path === '') return undefined;
  const file = resolve(workspace, path);
  try {
    return await readBoundedText(file);
  } catch (error) {
    throw new InputError('inventory', `cannot read ${file} (${unreadable(error)}); expected a YAML file in the workspace`);
  }
}

async function sourceDirectory(workspace: string, given: string): Promise<string> {
  const source = resolve(workspace, given);
  const info = await stat(source).catch(() => null);
  if (!info?.isDirectory()) throw new InputError('source', `"${given}" is not a directory (looked at ${source})`);
  return source;
}

/**
 * A validated plan, carried out: the source and inventory read, this job's
 * hosts and amounts resolved, the SSH and rsync transport opened, the fleet
 * rolled out (or, with dry-run, only planned). The same for the action and the CLI;
 * what differs (inputs, log, cancel, output) comes in through the context.
 * Returns every host's report, or [] when this job's shard has no host.
 */
export async function runDeployment(plan: DeployPlan, context: DeploymentContext): Promise<HostReport[]> {
  const source = await sourceDirectory(context.workspace, plan.rollout.source);
  const rollout = { ...plan.rollout, source };
  const hosts = fleetHosts(plan, rollout, await readInventory(context.workspace, plan.fleet.inventory), plan.hostDefaults);
  if (hosts.length === 0) {
    context.log.info(`shard ${plan.fleet.shard?.index}/${plan.fleet.shard?.count} has no host: nothing to do`);
    return [];
  }
  if (plan.fleet.mode === 'deploy' && plan.fleet.sync) await checkStartFiles(plan.rollout.source, source, hosts);
  // Walked while the hosts connect; a host that needs it waits for it, and a failure reaches each of them, never an unhandled rejection.
  const files = sourceFiles(source);
  const neededBytes = files.then(sourceBytes);
  neededBytes.catch(() => undefined);
  const fleet: FleetSettings = {
    ...plan.fleet,
    ...resolveFleetAmounts(plan.fleet, hosts.length),
    neededBytes,
    lock: { owner: context.lockOwner, timeoutMs: plan.fleet.lockTimeoutMs, force: plan.fleet.forceUnlock },
  };
  const transport = openTransport(
    { ...plan, rollout },
    { sourceFiles: files.then((found) => found.length), ...(context.debugText ? { debug: context.debugText } : {}) },
  );
  const io = realRolloutIO(transport, context.log, context.workspace);
  context.rolloutStarts?.(hosts);
  if (plan.fleet.dryRun) return planFleet(hosts, fleet, io, (path) => inSource(source, path));
  return rolloutFleet(hosts, fleet, io, context.cancelled, (_host, report) => context.hostReported?.(report), context.watchesEnd);
}

/** The source holds each host's start file, or the run stops before any host (see sourceStartFileError). */
async function checkStartFiles(given: string, source: string, hosts: readonly FleetHost[]): Promise<void> {
  const startFiles = hosts.map((host) => host.settings.startFile);
  const holds = new Set<string>();
  for (const startFile of new Set(startFiles)) if ((await stat(join(source, startFile)).catch(() => null))?.isFile()) holds.add(startFile);
  const error = sourceStartFileError({ given, looked: source, real: await realpath(source) }, startFiles, holds);
  if (error) throw error;
}

/** Whether the source has this path (relative to it, as rsync names it; a directory may end in /). */
function inSource(source: string, path: string): boolean {
  try {
    return lstatSync(join(source, path), { throwIfNoEntry: false }) !== undefined;
  } catch {
    // ENOTDIR: a parent of the path is a file in the source.
    return false;
  }
}
