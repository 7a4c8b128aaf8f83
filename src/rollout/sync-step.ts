import pRetry from 'p-retry';
import { RemoteConnectionLost, type SyncSummary } from '../engine/ports.js';
import { StepError } from '../engine/step-error.js';
import { removeStagingCommand } from '../workerman/commands.js';
import { runtimeProtectRules } from '../engine/plan/runtime-files.js';
import type { AppDefinitions } from '../engine/workers/worker-definitions.js';
import { runOnAnyConnection, type HostRun } from './context.js';
import { readDefinitions } from './read-definitions.js';

export interface Synced {
  /** The worker definitions of the synced tree: what a fresh master would load. */
  readonly definitions: AppDefinitions;
  /** Master-level files the sync changed or deleted. */
  readonly masterFilesChanged: readonly string[];
}

/** The rsync protect rules for the app's runtime files. */
export function protectRules(run: HostRun, live: AppDefinitions): string[] {
  return runtimeProtectRules(live, run.settings.target);
}

function logSync(run: HostRun, sync: SyncSummary): void {
  const names = sync.deletedNames ?? [];
  const more = sync.filesDeleted - names.length;
  run.io.log.info(
    `${run.label}: ${sync.filesTransferred} file(s) sent, ${sync.filesDeleted} deleted` +
      (names.length > 0 ? `: ${names.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : ''),
  );
}

/** Puts new files into the live tree: the source from the runner, or a snapshot on the host (a rollback). */
export interface Transfer {
  /** For the log: where the files come from. */
  readonly from: string;
  readonly run: (protect: readonly string[], watch: (path: string) => boolean) => Promise<SyncSummary>;
}

/** Sync attempts after the first: rsync is idempotent (--delay-updates, --checksum), so a transfer that failed on a live connection is worth another go. */
const SYNC_RETRIES = 2;

/** The deploy's transfer: rsync from the runner, retried on a failed transfer (never on a host key it refused). */
export function sourceTransfer(run: HostRun): Transfer {
  return {
    from: run.settings.source,
    run: (protect, watch) => {
      // Whether any attempt got as far as the host: the last one failing early does not undo what an earlier one wrote.
      let reached = false;
      const attempt = async () => {
        try {
          return await run.io.fileSync(run.shell, run.settings, protect).sync({ watch });
        } catch (error) {
          if (!(error instanceof StepError && error.filesMayHaveChanged === false)) reached = true;
          throw error;
        }
      };
      const synced = pRetry(attempt, {
        retries: SYNC_RETRIES,
        minTimeout: 1000,
        // Over a lost connection no attempt can succeed: the host's one connection carried rsync too.
        shouldRetry: ({ error }) => error instanceof StepError && error.step === 'sync' && !(error.cause instanceof RemoteConnectionLost),
        onFailedAttempt: ({ error, retriesLeft }) => {
          if (retriesLeft > 0 && error instanceof StepError && error.step === 'sync')
            run.io.log.warning(`${run.label}: ${error.message}; trying the sync again`);
        },
      }).catch((error: unknown) => {
        if (reached && error instanceof StepError && error.filesMayHaveChanged === false) {
          throw new StepError(error.step, `${error.message} (an earlier attempt reached the host, so some files may have changed)`);
        }
        throw error;
      });
      // What a failed attempt wrote is not in the last one's figures.
      return synced.then((summary) => (reached ? { ...summary, earlierAttemptReached: true } : summary));
    },
  };
}

/**
 * Syncs new files into the live directory, never deleting what the app
 * writes at run time, noting which master-level files changed; then reads
 * the worker definitions of the synced tree, so a start script the new code
 * broke is caught before any signal. The definitions come from the files the
 * start script includes and whatever else it reads (.env, a JSON config, a
 * glob of a directory): only a sync that gave new content to existing .php
 * files it did not include leaves them as they were, and skips the read.
 */
export async function syncStep(
  run: HostRun,
  live: AppDefinitions,
  masterLevel: (path: string) => boolean,
  transfer: Transfer = sourceTransfer(run),
): Promise<Synced> {
  const { settings, label, io, facts } = run;
  const protect = protectRules(run, live);
  io.log.info(
    `${label}: syncing ${transfer.from} to ${settings.target}` + (protect.length > 0 ? ` (keeping the app's runtime files: ${protect.join(', ')})` : ''),
  );
  facts.step = 'sync';
  facts.filesChanged = true;
  let sync;
  try {
    sync = await transfer.run(protect, masterLevel);
  } catch (error) {
    // rsync that never reached the host changed nothing; anything later may have.
    if (error instanceof StepError && error.filesMayHaveChanged === false) facts.filesChanged = false;
    // An rsync cut short leaves its --delay-updates staging directories in the live tree.
    else await runOnAnyConnection(run, removeStagingCommand(settings.target), "to remove rsync's staging directories").catch(() => undefined);
    throw error;
  }
  facts.sync = sync;
  logSync(run, sync);
  const masterFilesChanged = sync.watchedChanges ?? [];
  const definitions =
    sync.phpEditsOnly === true && masterFilesChanged.length === 0 ?
      live
    : await readDefinitions(run, 'sync', 'the files were synced but no reload was sent: the master keeps serving the old code, and a restart would fail');
  return { definitions, masterFilesChanged };
}

/** What the sync would change among the master-level files, changing nothing (rsync --dry-run). */
export async function masterFilesToChange(run: HostRun, live: AppDefinitions, masterLevel: (path: string) => boolean): Promise<readonly string[]> {
  const preview = await run.io.fileSync(run.shell, run.settings, protectRules(run, live)).sync({ dryRun: true, watch: masterLevel });
  return preview.watchedChanges ?? [];
}
