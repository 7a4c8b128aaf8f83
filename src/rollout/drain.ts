import { setTimeout as realSleep } from 'node:timers/promises';
import { formatDuration } from '../engine/units.js';
import { StepError } from '../engine/step-error.js';
import type { HostReport } from '../engine/report/report.js';
import type { DrainSettings } from '../engine/inputs/settings.js';
import type { HostRolloutIO, HostRun } from './context.js';
import { recordCommand } from './user-command.js';

/** Where the host stands in the rollout, for the commands' environment. */
export interface DrainedHost {
  readonly label: string;
  /** Its place in the host list, from 1. */
  readonly position: number;
}

/**
 * One host's drain-command and undrain-command, run on the runner: the host
 * is taken out once, before the first thing that stops it serving, and put
 * back only once it serves again (its new code or its rollback proven).
 */
export class HostDrain {
  private drained = false;

  constructor(
    private readonly settings: DrainSettings,
    private readonly host: DrainedHost,
    private readonly io: HostRolloutIO,
    private readonly timeoutMs: number,
  ) {}

  /** The drain-command, once; a failure stops the host before anything is stopped. */
  readonly before = async (run: HostRun): Promise<void> => {
    if (this.drained) return;
    run.facts.step = 'drain';
    const record = await this.run(run, 'drain', this.settings.command);
    if (!record.ok) {
      throw new StepError(
        'drain',
        `drain-command ${record.exit}${record.lastLines.length ? `: ${record.lastLines.slice(-3).join(' | ')}` : ''}; the host was not stopped`,
      );
    }
    this.drained = true;
    if (this.settings.waitMs > 0) {
      run.io.log.info(`${this.host.label}: drained; waiting ${formatDuration(this.settings.waitMs)} (drain-wait) before stopping it`);
      await (run.io.sleep ?? realSleep)(this.settings.waitMs);
    }
  };

  /** After the host's outcome: the undrain-command where it serves again; the report says whether it was left drained. */
  async settle(run: Pick<HostRun, 'commands'>, report: HostReport): Promise<HostReport> {
    if (!this.drained) return report;
    const serves = report.status === 'ok' || report.rollback?.ok === true;
    if (!serves) {
      this.io.log.warning(`${this.host.label}: left drained: it does not serve, so undrain-command was not run`);
      return { ...report, leftDrained: true };
    }
    if (this.settings.undrainCommand === '') return { ...report, leftDrained: false };
    const record = await this.run(run, 'undrain', this.settings.undrainCommand);
    if (record.ok) return { ...report, leftDrained: false };
    return {
      ...report,
      ok: false,
      status: 'failed',
      step: 'drain',
      error: `undrain-command ${record.exit}: the host serves ${report.status === 'ok' ? 'the new code' : 'the rolled-back code'} but is still out of the load balancer`,
      leftDrained: true,
    };
  }

  private run(run: Pick<HostRun, 'commands'>, name: 'drain' | 'undrain', command: string) {
    const runner = this.io.runnerCommand;
    if (!runner) throw new StepError('drain', `${name}-command cannot run here: this rollout has no runner to run commands on`);
    const { label, position } = this.host;
    const env = { GRACEFUL_RELOAD_HOST: label, GRACEFUL_RELOAD_HOST_INDEX: String(position) };
    return recordCommand({ io: this.io, label, commands: run.commands }, name, this.timeoutMs, (onLine) =>
      runner(command, { env, timeoutMs: this.timeoutMs, onLine }),
    );
  }
}
