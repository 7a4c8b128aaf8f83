import { setTimeout as realSleep } from 'node:timers/promises';
import type { RemoteShell } from '../engine/ports.js';
import type { RolloutSettings, StatusSourceKind } from '../engine/settings.js';
import type { HostSnapshot } from '../engine/worker-snapshot.js';
import { parseProbeOutput, probeCommand, ProbeParseError, probeRequestLine, type ProbeResult, type ProbeSetup } from '../workerman/host-probe.js';
import type { StatusReport } from '../workerman/status-table.js';
import { AppLogTail } from './app-log-tail.js';
import { HttpStatusError, parseHttpStatus } from './http-contract.js';
import { snapshotFromHttp, snapshotFromProcesses } from './probe-snapshot.js';
import { StatusSourceError, type StatusSource } from './status-source.js';
import { ResidentProbe } from './resident-probe.js';
import { StatusTableReader } from './status-table-reader.js';

export interface RemoteStatusOptions {
  readonly kind: StatusSourceKind;
  readonly shell: RemoteShell;
  readonly settings: RolloutSettings;
  readonly probe: ProbeSetup;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/**
 * The status sources over one SSH connection. Every poll is one question to
 * the resident host probe; `workerman` adds the status table (read in
 * preflight only), `http` reads the app's JSON, `process` needs nothing from
 * the app.
 */
export class RemoteStatus implements StatusSource {
  private readonly log: AppLogTail;
  private readonly table: StatusTableReader;
  private readonly probe: ResidentProbe;
  private masterPid = 0;
  private bootTime = 0;
  private signalled = false;

  constructor(private readonly options: RemoteStatusOptions) {
    this.log = new AppLogTail(options.probe.logFile !== '');
    this.table = new StatusTableReader(options.shell, options.settings, () => this.bootTime);
    this.probe = new ResidentProbe(options.shell, probeCommand(options.probe));
  }

  async snapshot(): Promise<HostSnapshot> {
    const probe = this.options.kind === 'http' ? await this.probeUntilStatusAnswers() : await this.runProbe();
    const evidence = this.log.evidence(this.masterPid);
    const snapshot =
      this.options.kind === 'http' ? snapshotFromHttp(probe, this.httpStatus(probe), evidence) : snapshotFromProcesses(probe, this.signalled ? undefined : this.table.latest, evidence);
    if (snapshot.masters.length === 1) this.masterPid = snapshot.masters[0]!.pid;
    return snapshot;
  }

  /**
   * Reads the status table now (workerman source), before the signal only:
   * `status` sends SIGIOT to every worker, and a worker just forked (no
   * handler yet) or stopping dies of it, which a watch would take for a
   * crash. After the signal, crash loops show as PID churn.
   */
  readTable(): Promise<StatusReport> {
    return this.table.read();
  }

  markSignal(): void {
    this.log.markSignal();
    this.signalled = true;
  }

  logSinceSignal(): string {
    return this.log.sinceSignal;
  }

  stop(): void {
    this.probe.close();
  }

  private async runProbe(): Promise<ProbeResult> {
    const answer = await this.probe.ask(probeRequestLine({ logOffset: this.log.offset, knownMaster: this.masterPid }), this.options.settings.commandTimeoutMs);
    let probe: ProbeResult;
    try {
      probe = parseProbeOutput(answer);
    } catch (error) {
      if (error instanceof ProbeParseError) throw new StatusSourceError(error.message);
      throw error;
    }
    this.bootTime = probe.time - probe.uptime;
    this.log.feed(probe.log);
    return probe;
  }

  /** The status URL may be down for a moment while its own worker is replaced; only garbage fails at once. */
  private async probeUntilStatusAnswers(): Promise<ProbeResult> {
    const { settings } = this.options;
    const now = this.options.now ?? Date.now;
    const sleep = this.options.sleep ?? realSleep;
    const deadline = now() + settings.commandTimeoutMs;
    for (;;) {
      const probe = await this.runProbe();
      if (probe.http && probe.http.error === undefined && (probe.http.status ?? 0) < 500) return probe;
      if (now() > deadline) {
        const why = probe.http?.error ?? `HTTP ${probe.http?.status ?? '?'}`;
        throw new StatusSourceError(`the status-url ${this.options.probe.statusUrl} gave no answer for ${settings.commandTimeoutMs / 1000} s (${why})`);
      }
      await sleep(settings.pollIntervalMs);
    }
  }

  private httpStatus(probe: ProbeResult) {
    try {
      return parseHttpStatus(probe.http?.body ?? '');
    } catch (error) {
      if (error instanceof HttpStatusError) throw new StatusSourceError(error.message);
      throw error;
    }
  }
}
