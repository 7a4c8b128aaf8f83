/**
 * src/action/: the GitHub Action: this file (the runner's inputs, secrets,
 * cancel and last-resort exit), the runner's log and outputs, and GitHub's
 * rendering: the job summary and its Gantt chart. Imported only by
 * src/index.ts.
 */

import * as core from '@actions/core';
import { hostname } from 'node:os';
import { stopRunningRsync } from '../adapters/rsync-sync.js';
import { sealHostText } from '../engine/report/host-text.js';
import { tallyHosts, tallyLine } from '../engine/report/host-outcome.js';
import { InputError, parseInputs } from '../engine/inputs/inputs.js';
import type { HostReport } from '../engine/report/report.js';
import type { LockOwner } from '../rollout/host-lock.js';
import { CANCEL_SETTLE_MS, twoStageCancel } from '../run/cancel.js';
import { runDeployment } from '../run/deployment.js';
import { actionLog, debugLines, fail } from './action-log.js';
import { annotateFailures, runTimeMs, writeJobSummary, writeOutputs } from './run-record.js';

/** Inputs as given: a passphrase or password may begin or end with a space; parseInputs trims the rest itself. */
function readInput(name: string): string {
  return core.getInput(name, { trimWhitespace: false });
}

function hideSecrets(): void {
  for (const name of ['private-key', 'passphrase', 'password']) {
    const value = readInput(name);
    if (value === '') continue;
    core.setSecret(value);
    // Multi-line secrets are masked line by line too, in case a tool echoes one line.
    for (const line of value.split(/\r?\n/)) if (line.trim().length >= 8) core.setSecret(line.trim());
  }
}

/**
 * What the main step has done so far, for the way out when it cannot finish
 * (an unexpected error, the runner cancelling): the report is still written.
 */
const progress: { reports: HostReport[]; current: string | undefined; ended: boolean } = {
  reports: [],
  current: undefined,
  ended: false,
};

function writeReport(): void {
  writeOutputs(progress.reports);
}

/**
 * The main step's last words when it cannot finish normally: stops rsync,
 * writes the report of the hosts finished so far, prints one failure line, exits 1. Each part runs even if one before
 * it fails.
 */
function endNow(why: string, detail?: unknown): void {
  if (progress.ended) return;
  progress.ended = true;
  const attempt = (part: () => void) => {
    try {
      part();
    } catch {
      // The other parts still run.
    }
  };
  attempt(() => stopRunningRsync());
  attempt(writeReport);
  attempt(() => writeJobSummary(progress.reports, runTimeMs()));
  if (detail instanceof Error && detail.stack) attempt(() => core.debug(sealHostText(detail.stack)));
  const inProgress =
    progress.current ? ` ${progress.current} was in progress: what it did is unknown (files may have changed, a reload may have been signalled).` : '';
  attempt(() => fail(`graceful-reload stopped: ${why}.${inProgress} The report lists the ${progress.reports.length} host(s) finished before.`));
  process.exit(1);
}

/** The runner sends SIGTERM 7.5 s after SIGINT: the step ends itself before, once the hosts in flight had CANCEL_SETTLE_MS to settle. */
const CANCEL_GRACE_MS = 6500;
const cancel = twoStageCancel();

function installLastResort(): void {
  process.on('uncaughtException', (error) => endNow(`an unexpected error: ${error instanceof Error ? error.message : String(error)}`, error));
  process.on('unhandledRejection', (reason) => endNow(`an unexpected error: ${reason instanceof Error ? reason.message : String(reason)}`, reason));
  // The runner cancels with SIGINT, then SIGTERM: the first lets the hosts in flight finish, the second ends now.
  process.on('SIGINT', () => {
    if (progress.current === undefined || !cancel.begin()) {
      endNow('the step was cancelled (SIGINT)');
      return;
    }
    core.warning(
      `cancelled (SIGINT): no new host starts; the hosts in flight get ${CANCEL_SETTLE_MS / 1000} s to settle, then stop watching and release their locks`,
    );
    setTimeout(() => endNow('the step was cancelled (SIGINT) and the hosts in flight did not finish in time'), CANCEL_GRACE_MS).unref();
  });
  process.on('SIGTERM', () => endNow('the step was cancelled (SIGTERM)'));
}

/** Who holds a host's lock: this run, as the next run's message will name it. */
function lockOwner(): LockOwner {
  const env = process.env;
  const runUrl =
    env['GITHUB_RUN_ID'] !== undefined ?
      `${env['GITHUB_SERVER_URL'] ?? 'https://github.com'}/${env['GITHUB_REPOSITORY'] ?? '?'}/actions/runs/${env['GITHUB_RUN_ID']}`
    : `a run outside GitHub Actions (pid ${process.pid} on ${hostname()})`;
  return { runUrl, job: env['GITHUB_JOB'] ?? 'graceful-reload', startedAt: new Date().toISOString() };
}

async function deploy(): Promise<void> {
  hideSecrets();
  // Steps that read the report get valid JSON even when the inputs are refused.
  writeReport();
  core.debug(`graceful-reload on Node ${process.version}; RUNNER_TEMP=${process.env['RUNNER_TEMP'] ?? '(unset)'}`);
  const plan = parseInputs(readInput, {
    ...(process.env['GITHUB_SHA'] ? { githubSha: process.env['GITHUB_SHA'] } : {}),
    ...(process.env['SSH_AUTH_SOCK'] ? { agentSocket: process.env['SSH_AUTH_SOCK'] } : {}),
  });
  if (plan.trust.ignoreHostKeys) {
    core.warning(
      'insecure-ignore-host-key is true: host keys are NOT checked, so anyone who can intercept the connection can read the code and the credentials and run commands as the deploy user. Pin the host keys with known-hosts instead.',
    );
  }
  try {
    progress.reports = await runDeployment(plan, {
      workspace: process.env['GITHUB_WORKSPACE'] ?? process.cwd(),
      lockOwner: lockOwner(),
      log: actionLog,
      debugText: debugLines,
      cancelled: cancel.cancelled,
      watchesEnd: cancel.watchesEnd,
      rolloutStarts: (hosts) => {
        progress.current = hosts.length <= 3 ? hosts.map((host) => host.spec.label).join(', ') : `the rollout of ${hosts.length} hosts`;
      },
      // Reports arrive host by host, so a run cut short still writes what it knows.
      hostReported: (report) => progress.reports.push(report),
    });
  } finally {
    progress.current = undefined;
    writeReport();
  }
  const reports = progress.reports;
  if (reports.length === 0) return;
  annotateFailures(reports);
  writeJobSummary(reports, runTimeMs());
  const summary = tallyLine(tallyHosts(reports), runTimeMs());
  // A dry run's hosts end planned: that is success too.
  const failed = reports.filter((report) => report.status !== 'ok' && report.status !== 'planned');
  if (failed.length > 0) {
    fail(`${failed.map((r) => `${r.host} ${r.status}`).join(', ')} (${summary})`);
    return;
  }
  const done =
    plan.fleet.dryRun ? 'planned, nothing changed'
    : plan.fleet.mode === 'rollback' ? 'rolled back and verified'
    : 'done';
  core.info(`all ${reports.length} host(s) ${done}: ${summary}`);
}

export async function run(): Promise<void> {
  installLastResort();
  try {
    await deploy();
  } catch (error) {
    // An error outside any host's rollout (inputs, the source directory): the report is still written.
    writeReport();
    if (error instanceof InputError && error.problems.length > 1) {
      // One annotation per bad input, each fixable from the list, then one failure line naming them.
      for (const { input, problem } of error.problems) core.error(sealHostText(`input ${input}: ${problem}`));
      fail(`${error.problems.length} inputs are wrong: ${error.problems.map(({ input }) => input).join(', ')}`);
      return;
    }
    fail(error instanceof Error ? error.message : String(error));
  }
}
