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
