import { posix } from 'node:path';
import { relativeToApp, type AppDefinitions } from '../workers/worker-definitions.js';

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
  /** Master-level files whose content the running master did not load: an earlier deploy reloaded where it should have restarted. */
  readonly stale: readonly string[];
  /** For each file of `files` and `stale`: what changed, and why a reload cannot apply it. */
  readonly evidence?: Readonly<Record<string, string>>;
}

export const NO_MASTER_CHANGE: MasterChange = { files: [], definitions: [], stale: [], evidence: {} };

type WorkerStartFacts = Pick<AppDefinitions, 'groups' | 'workerStart'>;

/** The names of groups, for messages: `web, task`. */
function groupNames(definitions: WorkerStartFacts, indexes: readonly number[]): string {
  return indexes.map((index) => definitions.groups[index]?.name ?? `#${index}`).join(', ');
}

/**
 * Why a reload cannot apply a change to `file` (absolute), which the master
 * loaded at top level; undefined when it can: every reloadable group reads it
 * again at its start (the probe watched each group's onWorkerStart) and it
 * declares no class, function or constant (those a worker keeps from the
 * master). A group whose start the probe could not run leaves every file
 * frozen: what it would have read is unknown.
 */
export function frozenBecause(definitions: WorkerStartFacts, file: string): string | undefined {
  const loaded = 'the master loaded it at top level';
  const probe = definitions.workerStart;
  if (probe === undefined) return `${loaded}, and whether workers read it again at start was not asked`;
  if ('error' in probe) return `${loaded}, and whether workers read it again at start is unknown: ${probe.error}`;
  const reloadable = definitions.groups.flatMap((group, index) => (group.reloadable ? [index] : []));
  if (reloadable.length === 0) return `${loaded}, and no group is reloadable`;
  const failed = probe.groups.find((answer) => answer.error !== undefined);
  if (failed) return `${loaded}, and whether ${groupNames(definitions, [failed.group])} workers read it again at start is unknown: ${failed.error}`;
  const keep = reloadable.filter((index) => !probe.groups.some((answer) => answer.group === index && answer.reread?.includes(file)));
  if (keep.length === reloadable.length) return `${loaded} and no worker reads it again at start: a value taken from it stays in the master`;
  if (keep.length > 0) return `${loaded}, and ${groupNames(definitions, keep)} workers do not read it again at start: they keep what the master took from it`;
  if (probe.declaring.includes(file)) return 'workers read it again at start, but it declares a class, function or constant, which they keep from the master';
  return undefined;
}

/**
 * Why each synced path (relative to the target) is master-level: loaded at
 * top level and frozen in the master, or matching a master-files glob;
 * undefined for a path a reload applies.
 */
export function masterLevelReasons(
  definitions: Pick<AppDefinitions, 'includedFiles' | 'startFile' | 'appDir' | 'groups' | 'workerStart'>,
  target: string,
  globs: readonly string[],
): (path: string) => string | undefined {
  const loaded = new Map<string, string>();
  for (const file of [...definitions.includedFiles, definitions.startFile]) {
    const path = relativeToApp(file, target, definitions.appDir);
    if (path !== undefined) loaded.set(path, file);
  }
  return (path) => {
    const file = loaded.get(path);
    const frozen = file === undefined ? undefined : frozenBecause(definitions, file);
    if (frozen !== undefined) return frozen;
    const glob = globs.find((pattern) => posix.matchesGlob(path, pattern));
    return glob === undefined ? undefined : `it matches master-files (${glob})`;
  };
}

/** Which synced paths (relative to the target) are master-level. */
export function masterLevelPaths(definitions: Parameters<typeof masterLevelReasons>[0], target: string, globs: readonly string[]): (path: string) => boolean {
  const reason = masterLevelReasons(definitions, target, globs);
  return (path) => reason(path) !== undefined;
}

/** What a host's record says the running master loaded: each master-level file's sha-256, by absolute path. */
export interface LoadedRecord {
  readonly files: Readonly<Record<string, string>>;
}

/** Stale master-level files, each with its evidence, and what the verdict rests on. */
export interface StaleCheck {
  readonly stale: readonly string[];
  readonly evidence: Readonly<Record<string, string>>;
  /** record: content against the record of the running master; times: a guess from modification times; unknown: no verdict. */
  readonly basis: 'record' | 'times' | 'unknown';
}

type StaleFacts = Pick<AppDefinitions, 'includedFiles' | 'fileTimes' | 'fileHashes' | 'appDir' | 'groups' | 'workerStart'>;

/**
 * Master-level files the running master did not load as they are now. With
 * the record of what it loaded (its pid and start time matched): a file
 * whose content differs, or that the record does not list. Without one: a
 * file modified after the master started, which is only a guess (a copy or
 * a touch that kept the content looks the same), and says so. Only files a
 * reload cannot apply count: one that workers read again at start was
 * applied by the last reload.
 */
export function staleFiles(
  definitions: StaleFacts,
  master: { readonly startedAt?: number | undefined; readonly record?: LoadedRecord | undefined },
  target: string,
): StaleCheck {
  const frozen = definitions.includedFiles.flatMap((file) => {
    const why = frozenBecause(definitions, file);
    return why === undefined ? [] : [{ file, name: relativeToApp(file, target, definitions.appDir) ?? file, why }];
  });
  const { record } = master;
  const hashes = definitions.fileHashes;
  let found: { name: string; evidence: string }[];
  let basis: StaleCheck['basis'];
  if (record !== undefined && hashes !== undefined) {
    basis = 'record';
    found = frozen.flatMap(({ file, name, why }) => {
      const now = hashes[file];
      const then = record.files[file];
      if (now === undefined || now === then) return [];
      const change =
        then === undefined ? 'the record of what the running master loaded does not list it' : 'its content differs from what the running master loaded';
      return [{ name, evidence: `${change}; ${why}` }];
    });
  } else if (master.startedAt !== undefined) {
    basis = 'times';
    // Whole seconds: a file written in the master's own start second is not later.
    const started = Math.floor(master.startedAt);
    found = frozen
      .filter(({ file }) => (definitions.fileTimes[file] ?? 0) > started)
      .map(({ name, why }) => ({ name, evidence: `${name} is newer than the master, and there is no record of what the master loaded: a guess; ${why}` }));
  } else {
    return { stale: [], evidence: {}, basis: 'unknown' };
  }
  found.sort((a, b) =>
    a.name < b.name ? -1
    : a.name > b.name ? 1
    : 0,
  );
  return { stale: found.map(({ name }) => name), evidence: Object.fromEntries(found.map(({ name, evidence }) => [name, evidence])), basis };
}

/** How the worker definitions differ, in words; empty when a reload can apply the new code. */
export function definitionChanges(before: Pick<AppDefinitions, 'groups'>, after: Pick<AppDefinitions, 'groups'>): string[] {
  const describe = (definitions: Pick<AppDefinitions, 'groups'>) =>
    new Map(
      definitions.groups.map((group) => [
        `${group.name} ${group.listen}`,
        `${group.class} count ${group.count}${group.reloadable ? '' : ' reloadable = false'}`,
      ]),
    );
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

export function needsRestart(change: Pick<MasterChange, 'files' | 'definitions' | 'stale'>): boolean {
  return change.files.length > 0 || change.definitions.length > 0 || change.stale.length > 0;
}

/** `start.php (why), config/boot.php (why) and 3 more`: each file with its evidence, where known. */
function listFiles(files: readonly string[], evidence: Readonly<Record<string, string>>): string {
  const named = files.slice(0, 5).map((file) => (evidence[file] ? `${file} (${evidence[file]})` : file));
  return files.length > 5 ? `${named.join(', ')} and ${files.length - 5} more` : named.join(', ');
}

/** `master-level file(s) changed: start.php (why); web count 4 -> 3; ...` for logs, errors and the job summary. */
export function describeMasterChange(change: MasterChange): string {
  const evidence = change.evidence ?? {};
  const parts: string[] = [];
  if (change.files.length > 0) parts.push(`master-level file(s) changed: ${listFiles(change.files, evidence)}`);
  if (change.definitions.length > 0) parts.push(`worker definitions changed: ${change.definitions.join('; ')}`);
  if (change.stale.length > 0)
    parts.push(`the running master did not load the current ${listFiles(change.stale, evidence)}: an earlier deploy reloaded where a restart was needed`);
  return parts.join('; ');
}
