import { StepError, type CommandResult, type Step } from '../engine/ports.js';
import type { AppDefinitions } from '../engine/worker-definitions.js';
import { definitionsCommand, DefinitionsError, parseDefinitions } from '../workerman/app-definitions.js';
import type { HostRun } from './context.js';

/** The definitions from a probe run, or a StepError quoting the PHP error and saying what that means for the host. */
export function definitionsFrom(result: CommandResult, step: Step, consequence: string): AppDefinitions {
  try {
    return parseDefinitions(result);
  } catch (error) {
    if (error instanceof DefinitionsError) throw new StepError(step, `${error.message}; ${consequence}`);
    throw error;
  }
}

/**
 * Runs the definition probe on the host's tree as it is now: before the sync
 * (what the running master loaded) or after it (what the new code defines).
 */
export async function readDefinitions(run: HostRun, step: Step, consequence: string): Promise<AppDefinitions> {
  const result = await run.shell.run(definitionsCommand(run.settings), { timeoutMs: run.settings.commandTimeoutMs });
  return definitionsFrom(result, step, consequence);
}

/** What differs between two sets of worker definitions, in words; empty when a reload can apply the new code. */
export function definitionChanges(before: AppDefinitions, after: AppDefinitions): string[] {
  const describe = (definitions: AppDefinitions) =>
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
