/**
 * What an app's start script defines, as its master loaded it: the facts the
 * definition probe (src/remote/definitions.php) reads from the host. Plain
 * data; src/workerman/app-definitions.ts reads it, the reload plan uses it.
 */

export interface WorkerDefinition {
  readonly class: string;
  readonly name: string;
  readonly count: number;
  /** False: the master signals these workers on a reload but never replaces them (GatewayWorker's Gateway, Register). */
  readonly reloadable: boolean;
  /** The listen address, or `none` for a worker that does not listen. */
  readonly listen: string;
  readonly user: string;
}

/** One reloadable group's start, run by the probe in a discarded child: the included files it opened again, or why it could not tell. */
export interface WorkerStartAnswer {
  /** Index into AppDefinitions.groups. */
  readonly group: number;
  readonly reread?: readonly string[];
  readonly error?: string;
}

/** The probe's second question: what workers read again at start. `error` when it could not be asked at all. */
export type WorkerStartProbe =
  | { readonly groups: readonly WorkerStartAnswer[]; /** Re-read files that declare a class, function or constant. */ readonly declaring: readonly string[] }
  | { readonly error: string };

export interface AppDefinitions {
  readonly workerman: string;
  /** The target's real path (PHP reports every path resolved, so a target reached through a symlink differs). */
  readonly appDir: string;
  readonly php: string;
  readonly startFile: string;
  readonly pidFile: string;
  readonly logFile: string;
  /** '' when the app leaves it to Workerman (4.x then writes one per status run). */
  readonly statusFile: string;
  readonly stdoutFile: string;
  readonly stopTimeout: number;
  /** In definition order: the order the master replaces them in. */
  readonly groups: readonly WorkerDefinition[];
  /** The files the start script loaded at top level: master-level code, which a reload does not refresh. */
  readonly includedFiles: readonly string[];
  /** Last modification (Unix seconds, host clock) of each included file. */
  readonly fileTimes: Readonly<Record<string, number>>;
  /** sha-256 of each included file's content, as the probe read it. Absent from probes older than this field. */
  readonly fileHashes?: Readonly<Record<string, string>>;
  /** Which included files a new worker of each reloadable group reads again at its start; absent when the probe was not asked. */
  readonly workerStart?: WorkerStartProbe;
  /** The CLI's OPcache settings, as the probe's php saw them. */
  readonly opcache: { readonly enableCli: boolean; readonly validateTimestamps: boolean; readonly loaded: boolean };
}

/** `path` relative to the app directory, as the target names it or as PHP resolved it; undefined outside it. */
export function relativeToApp(path: string, target: string, appDir: string): string | undefined {
  for (const root of [target, appDir]) {
    const prefix = `${root.replace(/\/+$/, '')}/`;
    if (root !== '' && path.startsWith(prefix)) return path.slice(prefix.length);
  }
  return undefined;
}

/**
 * The definition a worker belongs to, by the name in its title. The listen
 * address only tells apart groups that share a name (Workerman's default name
 * is "none"): it can differ between the probe's run and the master's, when
 * the start script reads its ports from the environment it was started with.
 */
export function definitionFor<T extends Pick<WorkerDefinition, 'name' | 'listen'>>(
  definitions: readonly T[],
  worker: { readonly name: string; readonly listen?: string | undefined },
): T | undefined {
  const named = definitions.filter((definition) => definition.name === worker.name);
  if (named.length <= 1) return named[0];
  return named.find((definition) => definition.listen === worker.listen) ?? named[0];
}
