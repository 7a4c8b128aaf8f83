import { RemoteCommandTimeout, type RemoteShell } from '../engine/ports.js';
import type { RolloutSettings } from '../engine/settings.js';
import { commandLine } from '../engine/shell-quote.js';
import { statusCommand } from '../workerman/commands.js';
import { parseStatusTable, StatusParseError, type StatusReport } from '../workerman/status-table.js';
import type { TableFigures } from './probe-snapshot.js';
import { StatusSourceError } from './status-source.js';

/** How often the table is read (each `status` run takes about a second and signals every worker). */
const EVERY_MS = 2000;

/**
 * Reads Workerman's status table beside the polls, because `status` always
 * takes a second and must not slow them. One `status` at a time. One bad
 * table is retried (another `status` run elsewhere can clobber the shared
 * statistics file); two in a row, or a hang, fail the verdict, which never
 * rests on a table it could not read.
 */
export class StatusTableLane {
  latest: TableFigures | undefined;
  error: Error | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly shell: RemoteShell,
    private readonly settings: Pick<RolloutSettings, 'target' | 'startFile' | 'php' | 'commandTimeoutMs'>,
    /** Host boot time (Unix seconds), to date a table by the uptime printed before it. */
    private readonly bootTime: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /** Runs `status` once; keeps the table when a master answered. */
  async read(): Promise<StatusReport> {
    const result = await this.shell.run(`cat /proc/uptime; ${statusCommand(this.settings)}`, { timeoutMs: this.settings.commandTimeoutMs });
    const newline = result.stdout.indexOf('\n');
    const uptime = Number(result.stdout.slice(0, Math.max(0, newline)).split(' ')[0]);
    if (newline < 0 || !Number.isFinite(uptime)) throw new StatusParseError('it printed nothing', result.stdout + result.stderr);
    const report = parseStatusTable(result.stdout.slice(newline + 1));
    // A master that is gone shows up in the probe; the table only adds figures.
    if (report.running) this.latest = { report, startedAt: this.bootTime() + uptime };
    return report;
  }

  start(): void {
    if (this.running) return;
    this.running = (async () => {
      let failures = 0;
      while (!this.stopped) {
        const started = this.now();
        try {
          await this.read();
          failures = 0;
        } catch (error) {
          if (this.stopped) return;
          failures += 1;
          if (failures >= 2 || error instanceof RemoteCommandTimeout) {
            this.error = this.describe(error);
            return;
          }
        }
        await this.sleep(Math.max(0, EVERY_MS - (this.now() - started)));
      }
    })();
  }

  stop(): void {
    this.stopped = true;
  }

  private describe(error: unknown): Error {
    if (error instanceof StatusParseError) return new StatusSourceError(`${error.message}; refusing to call the reload done without it`);
    if (error instanceof RemoteCommandTimeout) {
      const command = commandLine([this.settings.php, this.settings.startFile, 'status']);
      return new StatusSourceError(`"${command}" gave no answer within ${this.settings.commandTimeoutMs / 1000} s`);
    }
    return error as Error;
  }
}
