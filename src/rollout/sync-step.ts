import { StepError } from '../engine/ports.js';
import { runtimeProtectRules } from '../engine/runtime-files.js';
import type { AppDefinitions } from '../engine/worker-definitions.js';
import type { HostRun } from './context.js';
import { definitionChanges, readDefinitions } from './read-definitions.js';

/**
 * Syncs the source into the live directory, never deleting what the app
 * writes at run time, then reads the worker definitions of the synced tree:
 * a start script the new code broke is caught before any signal.
 */
export async function syncStep(run: HostRun, live: AppDefinitions): Promise<AppDefinitions> {
  const { settings, label, io, facts } = run;
  const protect = runtimeProtectRules(live, settings.target);
  io.log.info(`${label}: syncing ${settings.source} to ${settings.target}` + (protect.length > 0 ? ` (keeping the app's runtime files: ${protect.join(', ')})` : ''));
  facts.step = 'sync';
  facts.filesChanged = true;
  let sync;
  try {
    sync = await io.fileSync(run.host, protect).sync();
  } catch (error) {
    // rsync that never reached the host changed nothing; anything later may have.
    if (error instanceof StepError && error.filesMayHaveChanged === false) facts.filesChanged = false;
    throw error;
  }
  facts.sync = sync;
  const names = sync.deletedNames ?? [];
  const more = sync.filesDeleted - names.length;
  io.log.info(
    `${label}: ${sync.filesTransferred} file(s) sent, ${sync.filesDeleted} deleted` +
      (names.length > 0 ? `: ${names.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : ''),
  );

  const synced = await readDefinitions(run, 'sync', 'the files were synced but no reload was sent: the master keeps serving the old code, and a restart would fail');
  const changes = definitionChanges(live, synced);
  if (changes.length > 0) {
    io.log.warning(
      `${label}: the new start script defines other workers (${changes.join('; ')}). A reload keeps the master's old definitions: restart the app to apply them`,
    );
  }
  return synced;
}
