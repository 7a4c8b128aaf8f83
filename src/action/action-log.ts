import * as core from '@actions/core';
import { sealEachLine, sealHostText } from '../engine/report/host-text.js';
import type { RolloutLog } from '../engine/ports.js';
import type { HostReport } from '../engine/report/report.js';

/** The runner's groups do not nest: at most one is open. */
let groupOpen = false;

/**
 * The engine's log on a GitHub runner: errors become annotations. Messages
 * quote host text (process titles, app output, app log lines, file
 * names), so every one is sealed before it is printed: no line break of any
 * kind, no `::` at the start, no `##[` anywhere (see host-text.ts). That
 * holds for annotations and debug lines too, whose escaping by
 * @actions/core covers only \r, \n and %.
 */
export const actionLog: RolloutLog = {
  info: (message) => core.info(sealHostText(message)),
  warning: (message) => core.warning(sealHostText(message)),
  error: (message) => core.error(sealHostText(message)),
  debug: (message) => core.debug(sealHostText(message)),
  startGroup: (title) => {
    endOpenGroup();
    core.startGroup(sealHostText(title));
    groupOpen = true;
  },
  endGroup: () => endOpenGroup(),
};

/** Ends the log group in progress, if any: the run's last lines must not fold away inside it. */
export function endOpenGroup(): void {
  if (!groupOpen) return;
  core.endGroup();
  groupOpen = false;
}

/** The action's own multi-line debug text: each line sealed, line breaks kept. */
export function debugLines(text: string): void {
  for (const line of sealEachLine(text).split('\n')) core.debug(line);
}

/** A failure line for the job (an error annotation and exit code 1), sealed like every other line. */
export function fail(message: string): void {
  endOpenGroup();
  core.setFailed(sealHostText(message));
}

/**
 * The report as one JSON line. JSON.stringify escapes \r and \n but leaves
 * U+0085, U+2028 and U+2029 raw; they are escaped too, so host text in an
 * error can never split the value in the runner's output file.
 */
export function reportJson(reports: readonly HostReport[]): string {
  return JSON.stringify(reports).replace(/[\u0085\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
