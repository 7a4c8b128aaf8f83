import { formatDuration } from '../units.js';
import type { HostReport, HostStatus } from './report.js';

/** Where a host ended; a report made outside a fleet says it with `ok` alone. */
export function statusOf(report: HostReport): HostStatus {
  return report.status ?? (report.ok ? 'ok' : 'failed');
}

/**
 * Why a host did not end ok, in one line: the step that failed and why, what
 * the rollback did; or why it was skipped. Empty for a host that ended ok.
 */
export function whyNotOk(report: HostReport): string {
  const status = statusOf(report);
  if (status === 'skipped' || status === 'cancelled') return report.skippedBecause ?? report.error ?? '';
  if (status === 'ok' || status === 'planned') return '';
  const rollback = report.rollback ? `; rollback to the snapshot: ${report.rollback.ok ? 'done and verified' : `failed: ${report.rollback.error}`}` : '';
  if (report.ok) return `succeeded, then was rolled back because another host failed (rollback: all)${rollback}`;
  const untouched = report.filesChanged ? '' : ' (no file on this host was changed)';
  return `${report.step} failed${report.reason ? ` (${report.reason})` : ''}: ${report.error ?? 'no error was recorded'}${untouched}${rollback}`;
}

/** How many hosts ended in each status. */
export type FleetTally = Readonly<Record<HostStatus, number>> & { readonly hosts: number };

export function tallyHosts(reports: readonly HostReport[]): FleetTally {
  const counts: Record<HostStatus, number> = { ok: 0, failed: 0, 'rolled-back': 0, skipped: 0, cancelled: 0, planned: 0 };
  for (const report of reports) counts[statusOf(report)] += 1;
  return { ...counts, hosts: reports.length };
}

/**
 * The action's three count outputs, which add up to the hosts: succeeded (ok,
 * or planned in a dry run), failed (failed or rolled back: the new code does
 * not run there, the rollback: all hosts included), skipped (skipped or
 * cancelled: never changed).
 */
export function countOutputs(tally: FleetTally): { readonly succeeded: number; readonly failed: number; readonly skipped: number } {
  return { succeeded: tally.ok + tally.planned, failed: tally.failed + tally['rolled-back'], skipped: tally.skipped + tally.cancelled };
}

/** The run's last line: `2 host(s) in 14.2 s: 1 succeeded, 1 failed, 0 rolled back, 0 skipped` (cancelled and planned when there are any). */
export function tallyLine(tally: FleetTally, tookMs: number): string {
  const parts = [`${tally.ok} succeeded`, `${tally.failed} failed`, `${tally['rolled-back']} rolled back`, `${tally.skipped} skipped`];
  if (tally.cancelled > 0) parts.push(`${tally.cancelled} cancelled`);
  if (tally.planned > 0) parts.push(`${tally.planned} planned`);
  return `${tally.hosts} host(s) in ${formatDuration(tookMs)}: ${parts.join(', ')}`;
}
