import * as core from '@actions/core';
import { randomUUID } from 'node:crypto';
import type { RolloutLog } from '../engine/ports.js';

/**
 * A line that starts with "::" is a workflow command to the runner. Messages
 * can quote text from a host (a status table, an app log), so plain info
 * lines that could contain one are fenced with stop-commands; errors,
 * warnings and debug lines are escaped by @actions/core already.
 */
function info(message: string): void {
  // The runner splits lines at \r as well as \n.
  if (!/(^|[\r\n])\s*::/.test(message)) {
    core.info(message);
    return;
  }
  const token = randomUUID();
  core.info(`::stop-commands::${token}`);
  core.info(message);
  core.info(`::${token}::`);
}

/** The engine's log on a GitHub runner: errors become annotations. */
export const actionLog: RolloutLog = {
  info,
  warning: (message) => core.warning(message),
  error: (message) => core.error(message),
  debug: (message) => core.debug(message),
};
