import * as core from '@actions/core';
import { rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { stopRunningRsync } from '../adapters/rsync-sync.js';
import { openTransport } from '../adapters/transport.js';
import { sealHostText } from '../engine/host-text.js';
import { InputError, parseInputs } from '../engine/inputs.js';
import type { HostReport } from '../engine/report.js';
import { rolloutHost } from '../rollout/host-rollout.js';
import { realRolloutIO } from '../rollout/real-io.js';
import { actionLog, debugLines, fail, reportJson } from './action-log.js';
import { cleanup } from './post.js';
import { isPost, markMainStarted, rememberSecretDirectory } from './state.js';

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
 * (an unexpected error, the runner cancelling): the report is still written,
 * and the key files are still removed.
 */
const progress: { reports: HostReport[]; current: string | undefined; secretDirectory: string | undefined; ended: boolean } = {
  reports: [],
  current: undefined,
  secretDirectory: undefined,
  ended: false,
};

function writeReport(): void {
  core.setOutput('report', reportJson(progress.reports));
}

/** Removes the key and config files now, synchronously: an emergency exit cannot wait for promises. */
function removeSecretDirectoryNow(): void {
  if (progress.secretDirectory === undefined) return;
  rmSync(progress.secretDirectory, { recursive: true, force: true });
  progress.secretDirectory = undefined;
}

/**
 * The main step's last words when it cannot finish normally: stops rsync,
 * writes the report of the hosts finished so far, removes the temporary key
 * files, prints one failure line, exits 1. Each part runs even if one before
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
  let removed = true;
  attempt(() => {
    removed = false;
    removeSecretDirectoryNow();
    removed = true;
  });
  if (detail instanceof Error && detail.stack) attempt(() => core.debug(sealHostText(detail.stack)));
  const inProgress = progress.current
    ? ` ${progress.current} was in progress: what it did is unknown (files may have changed, a reload may have been signalled).`
    : '';
  attempt(() =>
    fail(
      `graceful-reload stopped: ${why}.${inProgress} The report lists the ${progress.reports.length} host(s) finished before;` +
        (removed ? ' the temporary key files were removed.' : ' the temporary key files could not be removed here; the post step removes them.'),
    ),
  );
  process.exit(1);
}

function installLastResort(): void {
  process.on('uncaughtException', (error) => endNow(`an unexpected error: ${error instanceof Error ? error.message : String(error)}`, error));
  process.on('unhandledRejection', (reason) => endNow(`an unexpected error: ${reason instanceof Error ? reason.message : String(reason)}`, reason));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => endNow(`the step was cancelled (${signal})`));
  }
}

async function deploy(): Promise<void> {
  markMainStarted();
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
  const workspace = process.env['GITHUB_WORKSPACE'] ?? process.cwd();
  const source = resolve(workspace, plan.rollout.source);
  const info = await stat(source).catch(() => null);
  if (!info?.isDirectory()) throw new InputError('source', `"${plan.rollout.source}" is not a directory (looked at ${source})`);
  const rollout = { ...plan.rollout, source };

  const transport = await openTransport({ ...plan, rollout }, {
    ...(process.env['RUNNER_TEMP'] ? { tempParent: process.env['RUNNER_TEMP'] } : {}),
    debug: debugLines,
  });
  progress.secretDirectory = transport.files.directory;
  rememberSecretDirectory(transport.files.directory);
  try {
    for (const host of plan.hosts) {
      progress.current = host.label;
      const report = await rolloutHost(host, rollout, realRolloutIO(transport, rollout, actionLog));
      progress.reports.push(report);
      progress.current = undefined;
      if (!report.ok) {
        core.error(sealHostText(`${report.host}: ${report.step} failed: ${report.error}${report.filesChanged ? '' : ' (no file on this host was changed)'}`));
        break;
      }
    }
  } finally {
    progress.current = undefined;
    writeReport();
    await transport.close().catch(() => removeSecretDirectoryNow());
    progress.secretDirectory = undefined;
  }
  const reports = progress.reports;
  const failed = reports.filter((report) => !report.ok);
  if (failed.length > 0) {
    const skipped = plan.hosts.length - reports.length;
    fail(`${failed.map((r) => r.host).join(', ')} failed${skipped > 0 ? `; ${skipped} host(s) not attempted` : ''}`);
    return;
  }
  core.info(`all ${reports.length} host(s) reloaded: every reloadable worker was replaced`);
}

export async function run(): Promise<void> {
  if (isPost) {
    try {
      await cleanup();
    } catch (error) {
      // The post step only cleans up: a failure to is a warning, not a failed job.
      core.warning(sealHostText(`could not remove the temporary SSH files: ${error instanceof Error ? error.message : String(error)}`));
    }
    return;
  }
  installLastResort();
  try {
    await deploy();
  } catch (error) {
    // An error outside any host's rollout (inputs, temp files): the report and clean-up still happen.
    writeReport();
    removeSecretDirectoryNow();
    fail(error instanceof Error ? error.message : String(error));
  }
}
