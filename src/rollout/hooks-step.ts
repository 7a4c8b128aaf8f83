import { StepError } from '../engine/step-error.js';
import type { HostReport } from '../engine/report/report.js';
import type { HostRun } from './context.js';
import { recordCommand, runOnHost } from './user-command.js';

/**
 * The user's commands on the host around the reload: before-reload
 * (migrations: after the sync, before the signal or the restart, while the
 * lock is held) and after-reload (a warm-up, once the new workers are proven).
 */

function lastWords(lines: readonly string[]): string {
  return lines.length ? `: ${lines.slice(-3).join(' | ')}` : '';
}

/** before-reload, where this host runs it; a failure or a timeout stops the host before any signal. */
export async function beforeReloadStep(run: HostRun): Promise<void> {
  const { beforeReload, timeoutMs } = run.settings.hooks;
  if (beforeReload === '' || !run.runsBeforeReload) return;
  run.facts.step = 'before-reload';
  const record = await recordCommand(run, 'before-reload', timeoutMs, (onLine) => runOnHost(run, beforeReload, timeoutMs, onLine));
  if (!record.ok) throw new StepError('before-reload', `before-reload ${record.exit}${lastWords(record.lastLines)}; the app was not signalled`);
}

/** after-reload on a host whose new workers are proven; a failure fails the host, which is not rolled back: its new code serves. */
export async function afterReloadStep(run: HostRun, report: HostReport): Promise<HostReport> {
  const { afterReload, timeoutMs } = run.settings.hooks;
  if (afterReload === '' || !report.ok) return report;
  run.facts.step = 'after-reload';
  const record = await recordCommand(run, 'after-reload', timeoutMs, (onLine) => runOnHost(run, afterReload, timeoutMs, onLine));
  if (record.ok) return report;
  return {
    ...report,
    ok: false,
    step: 'after-reload',
    error: `after-reload ${record.exit}${lastWords(record.lastLines)}; the new code serves and was not rolled back`,
  };
}
