import { RemoteCommandTimeout, type RemoteShell } from '../engine/ports.js';
import { reloadEvidence } from '../engine/app-log.js';
import type { HostSnapshot, WorkerProcess } from '../engine/worker-snapshot.js';
import { commandLine } from '../engine/shell-quote.js';
import { parseProbeOutput, parseWorkerTitle, probeCommand, ProbeParseError, TICKS_PER_SECOND, type ProbeOptions, type ProbeResult } from '../workerman/host-probe.js';
import { statusCommand } from '../workerman/commands.js';
import { crashExitsByGroup, parseStatusTable, StatusParseError, type StatusReport } from '../workerman/status-table.js';
import { HttpStatusError, parseHttpStatus } from './http-contract.js';
import type { StatusSource } from './status-source.js';
import type { RolloutSettings, StatusSourceKind } from '../engine/settings.js';

const LOG_KEEP = 256 * 1024;
/** How often the workerman source reads the status table (each read takes about a second). */
const TABLE_EVERY_MS = 2000;

/** The worker facts could not be read; not a StepError, so the rollout blames the step it was in. */
export class StatusSourceError extends Error {
  override name = 'StatusSourceError';
}

const PROC_STATES: Record<string, string> = { R: 'running', S: 'sleeping', D: 'waiting on I/O', T: 'stopped', t: 'traced' };

export interface RemoteStatusOptions {
  readonly kind: StatusSourceKind;
  readonly shell: RemoteShell;
  readonly settings: RolloutSettings;
  readonly probe: Omit<ProbeOptions, 'logOffset' | 'knownMaster'>;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/**
 * Every source polls with the host probe (one short command). `workerman`
 * adds the status table (crash counts, connections) from a background lane,
 * because `status` takes a second and must not slow the poll; `http` reads
 * the app's JSON; `process` needs nothing from the app.
 */
export class RemoteStatus implements StatusSource {
  private logOffset = -1;
  private collecting = false;
  private log = '';
  private masterPid = 0;
  private table: { report: Extract<StatusReport, { running: true }>; startedAt: number } | undefined;
  private tableError: Error | undefined;
  private tableLane: Promise<void> | undefined;
  private stopped = false;
  private bootTime = 0;

  constructor(private readonly options: RemoteStatusOptions) {}

  async snapshot(): Promise<HostSnapshot> {
    if (this.tableError) throw this.tableError;
    const probe = await this.runProbe();
    this.bootTime = probe.time - probe.uptime;
    if (probe.log) {
      if (this.collecting && this.logOffset >= 0) this.log = (this.log + probe.log.text).slice(-LOG_KEEP);
      this.logOffset = probe.log.end;
    }
    const snapshot = this.options.kind === 'http' ? await this.fromHttp(probe) : this.fromProcesses(probe);
    if (snapshot.masters.length === 1) this.masterPid = snapshot.masters[0]!.pid;
    if (this.options.kind === 'workerman' && this.collecting) this.startTableLane();
    return snapshot;
  }

  markSignal(): void {
    this.collecting = true;
    this.log = '';
    // A log that did not exist at the baseline is read from its first byte.
    if (this.logOffset < 0) this.logOffset = 0;
  }

  logSinceSignal(): string {
    return this.log;
  }

  stop(): void {
    this.stopped = true;
  }

  private async runProbe(): Promise<ProbeResult> {
    const { shell, settings } = this.options;
    const result = await shell.run(probeCommand({ ...this.options.probe, logOffset: this.logOffset, knownMaster: this.masterPid }), {
      timeoutMs: settings.commandTimeoutMs,
    });
    if (result.code !== 0) throw new StatusSourceError(`the host probe failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 300)}`);
    try {
      return parseProbeOutput(result.stdout);
    } catch (error) {
      if (error instanceof ProbeParseError) throw new StatusSourceError(error.message);
      throw error;
    }
  }

  private reloadEvidence(): boolean | undefined {
    if (!this.collecting || this.options.probe.logFile === '' || this.logOffset < 0) return undefined;
    return reloadEvidence(this.log, this.masterPid);
  }

  private fromProcesses(probe: ProbeResult): HostSnapshot {
    const byPid = new Map(this.table?.report.processes.map((row) => [row.pid, row]));
    const workers: WorkerProcess[] = probe.workers
      .filter((process) => process.state !== 'Z')
      .map((process) => {
        const row = byPid.get(process.pid);
        return {
          pid: process.pid,
          group: parseWorkerTitle(process.title)?.group ?? process.title,
          startedAt: this.bootTime + process.start / TICKS_PER_SECOND,
          ...(row ? { connections: row.connections, activity: row.state } : { activity: PROC_STATES[process.state] ?? process.state }),
        };
      });
    const evidence = this.reloadEvidence();
    return {
      at: probe.time,
      masters: probe.masters.filter((master) => master.state !== 'Z').map((master) => ({ pid: master.pid })),
      workers,
      ...(this.table ? { crashExits: crashExitsByGroup(this.table.report.exits), crashExitsAt: this.table.startedAt } : {}),
      ...(evidence !== undefined ? { reloadStarted: evidence } : {}),
    };
  }

  /** The status URL may be briefly down while its own worker is replaced; only garbage fails at once. */
  private async fromHttp(first: ProbeResult): Promise<HostSnapshot> {
    const now = this.options.now ?? Date.now;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const deadline = now() + this.options.settings.commandTimeoutMs;
    let probe = first;
    while (!probe.http || probe.http.error !== undefined || (probe.http.status ?? 0) >= 500) {
      if (now() > deadline) {
        const why = probe.http?.error ?? `HTTP ${probe.http?.status ?? '?'}`;
        throw new StatusSourceError(`the status-url ${this.options.probe.statusUrl} gave no answer for ${this.options.settings.commandTimeoutMs / 1000} s (${why})`);
      }
      await sleep(this.options.settings.pollIntervalMs);
      probe = await this.runProbe();
      this.bootTime = probe.time - probe.uptime;
    }
    let status;
    try {
      status = parseHttpStatus(probe.http.body ?? '');
    } catch (error) {
      if (error instanceof HttpStatusError) throw new StatusSourceError(error.message);
      throw error;
    }
    const titles = new Map(probe.workers.map((process) => [process.pid, process]));
    const workers: WorkerProcess[] = status.workers.map((worker) => {
      const process = titles.get(worker.pid);
      return {
        ...worker,
        group: worker.group ?? (process ? parseWorkerTitle(process.title)?.group : undefined) ?? 'workers',
        startedAt:
          worker.startedAt === undefined
            ? process
              ? this.bootTime + process.start / TICKS_PER_SECOND
              : probe.time
            : // Whole seconds: the worker may have started anywhere in that second, after the signal too.
              Number.isInteger(worker.startedAt)
              ? worker.startedAt + 0.999
              : worker.startedAt,
      };
    });
    const masters =
      status.masterPid !== undefined
        ? probe.http.master_alive === false
          ? []
          : [{ pid: status.masterPid }]
        : probe.masters.map((master) => ({ pid: master.pid }));
    const evidence = this.reloadEvidence();
    return { at: probe.time, masters, workers, ...(evidence !== undefined ? { reloadStarted: evidence } : {}) };
  }

  /**
   * Keeps reading the status table until stop(), one `status` at a time and
   * at most one every TABLE_EVERY_MS: each run signals every worker. One bad
   * table is retried (another `status` run elsewhere can clobber the shared
   * statistics file); two in a row fail the verdict, which never rests on a
   * table it could not read.
   */
  private startTableLane(): void {
    if (this.tableLane) return;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const now = this.options.now ?? Date.now;
    this.tableLane = (async () => {
      let failures = 0;
      while (!this.stopped) {
        const started = now();
        try {
          await this.readTable();
          failures = 0;
        } catch (error) {
          if (this.stopped) return;
          failures += 1;
          if (failures >= 2 || error instanceof RemoteCommandTimeout) {
            this.tableError = this.describeTableError(error);
            return;
          }
        }
        await sleep(Math.max(0, TABLE_EVERY_MS - (now() - started)));
      }
    })();
  }

  /** Runs `status` once and keeps the table when a master answered; the uptime printed first dates it. */
  async readTable(): Promise<StatusReport> {
    const { shell, settings } = this.options;
    const result = await shell.run(`cat /proc/uptime; ${statusCommand(settings)}`, { timeoutMs: settings.commandTimeoutMs });
    const newline = result.stdout.indexOf('\n');
    const uptime = Number(result.stdout.slice(0, Math.max(0, newline)).split(' ')[0]);
    if (newline < 0 || !Number.isFinite(uptime)) throw new StatusParseError('it printed nothing', result.stdout + result.stderr);
    const report = parseStatusTable(result.stdout.slice(newline + 1));
    // A master that is gone shows up in the probe; the table only adds figures.
    if (report.running) this.table = { report, startedAt: this.bootTime + uptime };
    return report;
  }

  private describeTableError(error: unknown): Error {
    const { settings } = this.options;
    if (error instanceof StatusParseError) return new StatusSourceError(`${error.message}; refusing to call the reload done without it`);
    if (error instanceof RemoteCommandTimeout) {
      return new StatusSourceError(`"${commandLine([settings.php, settings.startFile, 'status'])}" gave no answer within ${settings.commandTimeoutMs / 1000} s`);
    }
    return error as Error;
  }
}
