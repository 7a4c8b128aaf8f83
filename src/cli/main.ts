/**
 * src/cli/: the command-line tool (npx graceful-reload): this file (reading
 * a run and carrying it out), options taken from action.yml, a config file,
 * the live display. Imported only by src/index.ts.
 */

import { writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { stopRunningRsync } from '../adapters/rsync-sync.js';
import { formatDuration } from '../engine/units.js';
import { describePlan } from '../engine/plan/dry-run.js';
import { statusOf, tallyHosts, tallyLine, whyNotOk } from '../engine/report/host-outcome.js';
import { InputError, parseInputs } from '../engine/inputs/inputs.js';
import type { DeployPlan } from '../engine/inputs/settings.js';
import type { HostReport } from '../engine/report/report.js';
import type { LockOwner } from '../rollout/host-lock.js';
import { CANCEL_SETTLE_MS, twoStageCancel } from '../run/cancel.js';
import { runDeployment } from '../run/deployment.js';
import { cliOptions, helpText, parseArguments, SECRET_INPUTS, secretVariable, UsageError } from './options.js';
import { liveProgress, plainProgress, terminalText, type Progress } from './progress.js';
import { ownOption, rawInputs, readConfigFile, resolveInputs } from './settings.js';
import { VERSION } from './version.js';

/** The CLI's exit statuses (also in --help). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export interface CliStreams {
  readonly out: NodeJS.WriteStream;
  readonly err: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
}

/** What a run needs once its options are read. */
interface CliRun {
  readonly plan: DeployPlan;
  readonly reportFile: string | undefined;
  readonly plain: boolean;
  readonly verbose: boolean;
}

/** An input problem in the command line's words: the option that sets the input. */
function optionProblems(error: InputError): string[] {
  const option = (input: string) => ((SECRET_INPUTS as readonly string[]).includes(input) ? `--${input}-file (or ${secretVariable(input)})` : `--${input}`);
  return error.problems.map(({ input, problem }) => `${option(input)}: ${problem}`);
}

/** Reads the options, the config file, the secrets and validates them all; undefined after --help or --version. */
async function readRun(argv: readonly string[], { out, env }: CliStreams): Promise<CliRun | undefined> {
  const options = cliOptions();
  const commandLine = parseArguments(argv, options);
  if (commandLine.get('help')?.[0] === 'true') {
    out.write(`${helpText(options)}\n`);
    return undefined;
  }
  if (commandLine.get('version')?.[0] === 'true') {
    out.write(`${VERSION}\n`);
    return undefined;
  }
  const configPath = commandLine.get('config')?.[0];
  const config = configPath === undefined ? undefined : await readConfigFile(configPath, options);
  const inputs = await resolveInputs(commandLine, config, env, options);
  const plan = parseInputs(rawInputs(inputs), env['SSH_AUTH_SOCK'] ? { agentSocket: env['SSH_AUTH_SOCK'] } : {});
  return {
    plan,
    reportFile: ownOption('report-file', commandLine, config),
    plain: ownOption('plain', commandLine, config) === 'true',
    verbose: ownOption('verbose', commandLine, config) === 'true',
  };
}

/** Who holds a host's lock: this command, as the next run's message will name it. */
function lockOwner(): LockOwner {
  return {
    runUrl: `the graceful-reload CLI run by ${userInfo().username}@${hostname()} (pid ${process.pid})`,
    job: 'graceful-reload CLI',
    startedAt: new Date().toISOString(),
  };
}

/** Ctrl-C: the first lets the hosts in flight finish (as a runner's cancel does), a second stops at once. */
function interrupts(progress: Progress, err: NodeJS.WriteStream): { cancelled: AbortSignal; watchesEnd: AbortSignal; dispose: () => void } {
  const cancel = twoStageCancel();
  const onInterrupt = () => {
    if (!cancel.begin()) {
      stopRunningRsync();
      progress.stop();
      err.write(
        'graceful-reload: stopped by a second Ctrl-C; the hosts in flight may have new files and a reload in progress, and their locks stay until they expire or force-unlock\n',
      );
      process.exit(EXIT.interrupted);
    }
    progress.log.warning(
      `Ctrl-C: no new host starts; the hosts in flight get ${CANCEL_SETTLE_MS / 1000} s to settle, then stop watching. Ctrl-C again stops at once`,
    );
  };
  process.on('SIGINT', onInterrupt);
  return { cancelled: cancel.cancelled, watchesEnd: cancel.watchesEnd, dispose: () => process.off('SIGINT', onInterrupt) };
}

const succeeded = (report: HostReport) => statusOf(report) === 'ok' || statusOf(report) === 'planned';

/** One line per host: how it ended and, when not well, why; then the totals. */
function outcomeLines(reports: readonly HostReport[], tookMs: number): string[] {
  const lines = reports.map((report) => {
    // A dry run's plan is its result: on a terminal, the live line showed only its start.
    if (report.dryRun && statusOf(report) === 'planned') return describePlan(report.host, report.dryRun);
    if (succeeded(report)) return `${report.host}: ${statusOf(report)}${report.action ? ` (${report.action})` : ''} in ${formatDuration(report.durationMs)}`;
    return `${report.host}: ${statusOf(report)}: ${whyNotOk(report)}`;
  });
  return [...lines, tallyLine(tallyHosts(reports), tookMs)];
}

/** Carries out a validated run with a display; returns the exit status. */
async function deploy(run: CliRun, streams: CliStreams): Promise<number> {
  const { out, err, env } = streams;
  const live = !run.plain && out.isTTY === true && env['TERM'] !== 'dumb';
  const progress = live ? liveProgress(out, run.verbose) : plainProgress(out, err, run.verbose);
  const { cancelled, watchesEnd, dispose } = interrupts(progress, err);
  const started = Date.now();
  let reports: HostReport[];
  try {
    reports = await runDeployment(run.plan, {
      workspace: process.cwd(),
      lockOwner: lockOwner(),
      log: progress.log,
      debugText: (text) => progress.log.debug(text),
      cancelled,
      watchesEnd,
      rolloutStarts: (hosts) => progress.hostsStart(hosts.map((host) => host.spec.label)),
      hostReported: (report) => progress.hostEnded(report.host, statusOf(report), succeeded(report)),
    });
  } finally {
    dispose();
  }
  for (const report of reports) progress.hostEnded(report.host, statusOf(report), succeeded(report));
  progress.stop();
  for (const line of outcomeLines(reports, Date.now() - started)) out.write(`${terminalText(line)}\n`);
  if (run.reportFile !== undefined) await writeFile(run.reportFile, `${JSON.stringify(reports, null, 2)}\n`);
  return reports.every(succeeded) ? EXIT.ok : EXIT.failed;
}

/**
 * `graceful-reload [options]`: the action's engine from a terminal or
 * another CI. Returns the exit status: 0 every host done (or planned), 1 a
 * host did not end well (or the run could not start), 2 bad options or inputs.
 */
export async function runCli(argv: readonly string[], streams: CliStreams = { out: process.stdout, err: process.stderr, env: process.env }): Promise<number> {
  const { err } = streams;
  const refuse = (lines: readonly string[]) => {
    for (const line of lines) err.write(`graceful-reload: ${terminalText(line)}\n`);
    err.write('See graceful-reload --help.\n');
    return EXIT.usage;
  };
  try {
    const run = await readRun(argv, streams);
    return run === undefined ? EXIT.ok : await deploy(run, streams);
  } catch (error) {
    if (error instanceof UsageError) return refuse([error.message]);
    // Inputs, the source directory and the inventory are checked before any host is touched.
    if (error instanceof InputError) return refuse(optionProblems(error));
    err.write(`graceful-reload: ${terminalText(error instanceof Error ? error.message : String(error))}\n`);
    return EXIT.failed;
  }
}
