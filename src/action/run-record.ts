import * as core from '@actions/core';
import { appendFileSync } from 'node:fs';
import { sealHostText } from '../engine/report/host-text.js';
import { countOutputs, statusOf, tallyHosts, whyNotOk } from '../engine/report/host-outcome.js';
import { jobSummary } from './job-summary.js';
import type { HostReport } from '../engine/report/report.js';
import { endOpenGroup, reportJson } from './action-log.js';

/**
 * What a run leaves on GitHub besides its log: the outputs, one error
 * annotation per failed host, and the job summary. Each is synchronous, so
 * the last words of a run cut short can still leave them.
 */

/** How long this step has run: what the last line and the summary report as the time taken. */
export function runTimeMs(): number {
  return Math.round(process.uptime() * 1000);
}

/** The outputs: `report`, and the `succeeded`, `failed` and `skipped` counts (see countOutputs). */
export function writeOutputs(reports: readonly HostReport[]): void {
  core.setOutput('report', reportJson(reports));
  const counts = countOutputs(tallyHosts(reports));
  core.setOutput('succeeded', String(counts.succeeded));
  core.setOutput('failed', String(counts.failed));
  core.setOutput('skipped', String(counts.skipped));
}

/** One error annotation per failed (or rolled back) host: titled with the host, saying why on one line. */
export function annotateFailures(reports: readonly HostReport[]): void {
  endOpenGroup();
  for (const report of reports) {
    const status = statusOf(report);
    if (status !== 'failed' && status !== 'rolled-back') continue;
    const title = `${report.host} ${status === 'rolled-back' ? 'failed and was rolled back' : 'failed'}`;
    core.error(sealHostText(`${report.host}: ${whyNotOk(report)}`), { title: sealHostText(title) });
  }
}

/** Whether this step's summary is written: a cancel arriving after it must not append a second one. */
let summaryWritten = false;

/** The job summary, appended to GITHUB_STEP_SUMMARY once; nothing outside a runner, a warning if it cannot be written. */
export function writeJobSummary(reports: readonly HostReport[], tookMs: number): void {
  const file = process.env['GITHUB_STEP_SUMMARY'];
  if (!file || reports.length === 0 || summaryWritten) return;
  summaryWritten = true;
  try {
    appendFileSync(file, jobSummary(reports, tookMs));
  } catch (error) {
    core.warning(`could not write the job summary to ${file}: ${(error as Error).message}`);
  }
}
