import { describeExit } from '../engine/ports.js';
import { StepError } from '../engine/ports.js';
import type { DrainCommand, DrainReport, HostReport } from '../engine/report.js';
import type { DrainSettings } from '../engine/settings.js';
import { formatDuration } from '../engine/duration.js';
import type { HostRolloutIO, HostRun, RunnerCommandResult } from './context.js';

/** Where the host stands in the rollout, for the commands' environment. */
export interface DrainedHost {
  readonly label: string;
  /** Its place in the host list, from 1. */
  readonly position: number;
}

function describeRun(result: RunnerCommandResult, timeoutMs: number): string {
  return result.timedOut ? `timed out after ${formatDuration(timeoutMs)}` : describeExit(result);
}

/**
 * One host's drain-command and undrain-command, run on the runner: the host
 * is taken out once, before the first thing that stops it serving, and put
 * back only once it serves again (its new code or its rollback proven).
 */
export class HostDrain {
  private drained = false;
  private readonly commands: DrainCommand[] = [];

  constructor(
    private readonly settings: DrainSettings,
    private readonly host: DrainedHost,
    private readonly io: HostRolloutIO,
    private readonly timeoutMs: number,
  ) {}

  /** The drain-command, once; a failure stops the host before anything is stopped. */
  readonly before = async (run: HostRun): Promise<void> => {
    if (this.drained) return;
    const record = await this.run('drain', this.settings.command);
    if (!record.ok) {
      throw new StepError('drain', `drain-command ${record.exit}${record.lastLines.length ? `: ${record.lastLines.slice(-3).join(' | ')}` : ''}; the host was not stopped`);
    }
    this.drained = true;
    if (this.settings.waitMs > 0) {
      run.io.log.info(`${this.host.label}: drained; waiting ${formatDuration(this.settings.waitMs)} (drain-wait) before stopping it`);
      await (run.io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))))(this.settings.waitMs);
    }
  };

  /** After the host's outcome: the undrain-command where it serves again, and what both commands did, in its report. */
  async settle(report: HostReport): Promise<HostReport> {
    if (!this.drained) return this.commands.length > 0 ? { ...report, drain: this.summary(false) } : report;
    const serves = report.status === 'ok' || report.rollback?.ok === true;
    if (!serves) {
      this.io.log.warning(`${this.host.label}: left drained: it does not serve, so undrain-command was not run`);
      return { ...report, drain: this.summary(true) };
    }
    if (this.settings.undrainCommand === '') return { ...report, drain: this.summary(false) };
    const record = await this.run('undrain', this.settings.undrainCommand);
    if (record.ok) return { ...report, drain: this.summary(false) };
    return {
      ...report,
      ok: false,
      status: 'failed',
      step: 'drain',
      error: `undrain-command ${record.exit}: the host serves ${report.status === 'ok' ? 'the new code' : 'the rolled-back code'} but is still out of the load balancer`,
      drain: this.summary(true),
    };
  }

  private summary(leftDrained: boolean): DrainReport {
    return { commands: [...this.commands], leftDrained };
  }

  private async run(name: DrainCommand['name'], command: string): Promise<DrainCommand> {
    const { label, position } = this.host;
    const runner = this.io.runnerCommand;
    if (!runner) throw new StepError('drain', `${name}-command cannot run here: this rollout has no runner to run commands on`);
    this.io.log.info(`${label}: running ${name}-command`);
    const result = await runner(command, {
      env: { GRACEFUL_RELOAD_HOST: label, GRACEFUL_RELOAD_HOST_INDEX: String(position) },
      timeoutMs: this.timeoutMs,
      onLine: (line) => this.io.log.info(`${label}: ${name}: ${line}`),
    });
    const record: DrainCommand = { name, ok: result.code === 0 && !result.timedOut, exit: describeRun(result, this.timeoutMs), durationMs: result.durationMs, lastLines: result.lastLines.slice(-5) };
    this.commands.push(record);
    this.io.log.info(`${label}: ${name}-command ${record.exit} (${formatDuration(record.durationMs)})`);
    return record;
  }
}
