import type { RemoteShell } from '../engine/ports.js';
import type { RolloutSettings } from '../engine/settings.js';
import { statusCommand } from '../workerman/commands.js';
import { parseStatusTable, StatusParseError, type StatusReport } from '../workerman/status-table.js';
import type { TableFigures } from './probe-snapshot.js';

/**
 * Reads Workerman's status table (crash counts, connections) before the
 * reload signal. Never after it: `status` sends SIGIOT to every worker, and a
 * worker just forked or stopping dies of it (4.x kills gracefully stopping
 * workers too), which would drop connections and look like a crash loop.
 */
export class StatusTableReader {
  latest: TableFigures | undefined;

  constructor(
    private readonly shell: RemoteShell,
    private readonly settings: Pick<RolloutSettings, 'target' | 'startFile' | 'php' | 'commandTimeoutMs'>,
    /** Host boot time (Unix seconds), to date a table by the uptime printed before it. */
    private readonly bootTime: () => number,
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
}
