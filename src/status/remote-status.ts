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

/** The worker facts could not be read; the rollout names the step it happened in. */
export class StatusSourceError extends Error {
  override name = 'StatusSourceError';
}

const PROC_STATES: Record<string, string> = { R: 'running', S: 'sleeping', D: 'waiting on I/O', T: 'stopped', t: 'traced' };

export interface RemoteStatusOptions {
  readonly kind: StatusSourceKind;
  readonly shell: RemoteShell;
  readonly settings: RolloutSettings;
  readonly probe: Omit<ProbeOptions, 'logOffset'>;
  /** The status table read at preflight, so the baseline has crash counts without another second's wait. */
  readonly initialTable?: Extract<StatusReport, { running: true }>;
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

  constructor(private readonly options: RemoteStatusOptions) {
    if (options.initialTable) this.table = { report: options.initialTable, startedAt: 0 };
  }

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
  }

  logSinceSignal(): string {
    return this.log;
  }

  stop(): void {
    this.stopped = true;
  }

  private async runProbe(): Promise<ProbeResult> {
    const { shell, settings } = this.options;
    const result = await shell.run(probeCommand({ ...this.options.probe, logOffset: this.logOffset }), { timeoutMs: settings.commandTimeoutMs });
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
        startedAt: worker.startedAt ?? (process ? this.bootTime + process.start / TICKS_PER_SECOND : probe.time),
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

  /** Keeps one `status` command in flight at a time until stop(). */
  private startTableLane(): void {
    if (this.tableLane) return;
    const { shell, settings } = this.options;
    this.tableLane = (async () => {
      while (!this.stopped) {
        try {
          const result = await shell.run(`cat /proc/uptime; ${statusCommand(settings)}`, { timeoutMs: settings.commandTimeoutMs });
          if (this.stopped) return;
          const newline = result.stdout.indexOf('\n');
          const uptime = Number(result.stdout.slice(0, newline).split(' ')[0]);
          const report = parseStatusTable(result.stdout.slice(newline + 1));
          // A master that is gone shows up in the probe; the table only adds figures.
          if (report.running) this.table = { report, startedAt: this.bootTime + uptime };
        } catch (error) {
          if (this.stopped) return;
          this.tableError =
            error instanceof StatusParseError
              ? new StatusSourceError(`${error.message}; refusing to call the reload done without it`)
              : error instanceof RemoteCommandTimeout
                ? new StatusSourceError(`"${commandLine([settings.php, settings.startFile, 'status'])}" gave no answer within ${settings.commandTimeoutMs / 1000} s`)
                : (error as Error);
          return;
        }
      }
    })();
  }
}
