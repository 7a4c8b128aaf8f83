import { type CommandResult } from '../engine/ports.js';
import { StepError, type Step } from '../engine/step-error.js';
import type { AppDefinitions } from '../engine/workers/worker-definitions.js';
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
 * Runs the definition probe on the synced tree: what the new code defines.
 * What workers read again at start is a question about the running master's
 * code, asked in preflight; the new code's workers are not run.
 */
export async function readDefinitions(run: HostRun, step: Step, consequence: string): Promise<AppDefinitions> {
  const result = await run.shell.run(definitionsCommand(run.settings, { workerStart: false }), { timeoutMs: run.settings.commandTimeoutMs });
  return definitionsFrom(result, step, consequence);
}
