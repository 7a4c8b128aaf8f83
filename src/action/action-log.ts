import * as core from '@actions/core';
import type { RolloutLog } from '../engine/ports.js';

/** The engine's log on a GitHub runner: errors become annotations. */
export const actionLog: RolloutLog = {
  info: (message) => core.info(message),
  warning: (message) => core.warning(message),
  error: (message) => core.error(message),
  debug: (message) => core.debug(message),
};
