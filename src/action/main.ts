import * as core from '@actions/core';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { openTransport } from '../adapters/transport.js';
import { rolloutHost } from '../engine/host-rollout.js';
import { InputError, parseInputs } from '../engine/inputs.js';
import type { HostReport } from '../engine/report.js';
import { actionLog } from './action-log.js';
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

async function deploy(): Promise<void> {
  markMainStarted();
  hideSecrets();
  // Steps that read the report get valid JSON even when the inputs are refused.
  core.setOutput('report', '[]');
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
    debug: (line) => core.debug(line),
  });
  rememberSecretDirectory(transport.files.directory);
  const reports: HostReport[] = [];
  try {
    for (const host of plan.hosts) {
      const report = await rolloutHost(host, rollout, {
        openShell: (spec) => transport.openShell(spec),
        fileSync: (spec) => transport.fileSync(spec, rollout),
        log: actionLog,
      });
      reports.push(report);
      if (!report.ok) {
        core.error(`${report.host}: ${report.step} failed: ${report.error}${report.filesChanged ? '' : ' (no file on this host was changed)'}`);
        break;
      }
    }
  } finally {
    await transport.close();
    core.setOutput('report', JSON.stringify(reports));
  }
  const failed = reports.filter((report) => !report.ok);
  if (failed.length > 0) {
    const skipped = plan.hosts.length - reports.length;
    core.setFailed(`${failed.map((r) => r.host).join(', ')} failed${skipped > 0 ? `; ${skipped} host(s) not attempted` : ''}`);
    return;
  }
  core.info(`all ${reports.length} host(s) reloaded: every reloadable worker was replaced`);
}

export async function run(): Promise<void> {
  try {
    if (isPost) await cleanup();
    else await deploy();
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error));
  }
}
