import { posix } from 'node:path';
import { relativeToApp, type AppDefinitions } from './worker-definitions.js';

/**
 * Whether a deploy needs a restart rather than a reload. A reload refreshes
 * only the code workers load in their callbacks; the start file, what it
 * loads at top level and the worker definitions live in the master. Pure:
 * the facts come from the definition probe, the sync's itemized list and the
 * master's start time.
 */
export interface MasterChange {
  /** Master-level files (relative to the target) the sync changes or deletes, and files matching master-files. */
  readonly files: readonly string[];
  /** How the new worker definitions differ from the running ones. */
  readonly definitions: readonly string[];
  /** Master-level files that changed after the running master started: an earlier deploy reloaded where it should have restarted. */
  readonly stale: readonly string[];
}

export const NO_MASTER_CHANGE: MasterChange = { files: [], definitions: [], stale: [] };


/** Which synced paths (relative to the target) are master-level: loaded at top level, or matching a master-files glob. */
export function masterLevelPaths(definitions: Pick<AppDefinitions, 'includedFiles' | 'startFile' | 'appDir'>, target: string, globs: readonly string[]): (path: string) => boolean {
  const loaded = new Set(
    [...definitions.includedFiles, definitions.startFile].map((file) => relativeToApp(file, target, definitions.appDir)).filter((file): file is string => file !== undefined),
  );
  return (path) => loaded.has(path) || globs.some((glob) => posix.matchesGlob(path, glob));
}

/** Master-level files whose modification time is later than the master's start (both on the host's clock). */
export function staleFiles(definitions: Pick<AppDefinitions, 'fileTimes' | 'appDir'>, masterStartedAt: number | undefined, target: string): string[] {
  if (masterStartedAt === undefined) return [];
  return Object.entries(definitions.fileTimes)
    // Whole seconds: a file written in the master's own start second is not later.
    .filter(([, time]) => time > Math.floor(masterStartedAt))
    .map(([file]) => relativeToApp(file, target, definitions.appDir) ?? file)
    .sort();
}

/** How the worker definitions differ, in words; empty when a reload can apply the new code. */
export function definitionChanges(before: Pick<AppDefinitions, 'groups'>, after: Pick<AppDefinitions, 'groups'>): string[] {
  const describe = (definitions: Pick<AppDefinitions, 'groups'>) =>
    new Map(definitions.groups.map((group) => [`${group.name} ${group.listen}`, `${group.class} count ${group.count}${group.reloadable ? '' : ' reloadable = false'}`]));
  const old = describe(before);
  const now = describe(after);
  const changes: string[] = [];
  for (const [key, value] of now) {
    if (!old.has(key)) changes.push(`new group ${key}`);
    else if (old.get(key) !== value) changes.push(`${key}: ${old.get(key)} -> ${value}`);
  }
  for (const key of old.keys()) if (!now.has(key)) changes.push(`group ${key} removed`);
  return changes;
}

export function needsRestart(change: MasterChange): boolean {
  return change.files.length > 0 || change.definitions.length > 0 || change.stale.length > 0;
}

/** `start.php, config/boot.php changed; web count 4 -> 3; ...` for logs and errors. */
export function describeMasterChange(change: MasterChange): string {
  const list = (items: readonly string[]) => (items.length > 5 ? `${items.slice(0, 5).join(', ')} and ${items.length - 5} more` : items.join(', '));
  const parts: string[] = [];
  if (change.files.length > 0) parts.push(`master-level file(s) changed: ${list(change.files)}`);
  if (change.definitions.length > 0) parts.push(`worker definitions changed: ${change.definitions.join('; ')}`);
  if (change.stale.length > 0) parts.push(`the running master is older than ${list(change.stale)} (an earlier deploy reloaded where a restart was needed)`);
  return parts.join('; ');
}
