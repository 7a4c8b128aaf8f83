import { setTimeout as realSleep } from 'node:timers/promises';
import type { RemoteShell } from '../engine/ports.js';
import type { RolloutSettings, StatusSourceKind } from '../engine/inputs/settings.js';
import type { HostSnapshot } from '../engine/workers/worker-snapshot.js';
import { parseProbeOutput, probeCommand, ProbeParseError, probeRequestLine, type ProbeResult, type ProbeSetup } from '../workerman/host-probe.js';
import { AppLogTail } from './app-log-tail.js';
import { HttpStatusError, parseHttpStatus } from './http-contract.js';
import { snapshotFromHttp, snapshotFromProcesses } from './probe-snapshot.js';
import { StatusSourceError, type StatusSource } from './status-source.js';
import { ResidentProbe } from './resident-probe.js';

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
 * the resident host probe: /proc, the app log past the last read (`workerman`),
 * and the app's JSON status (`http`).
 */
export class RemoteStatus implements StatusSource {
  private readonly log: AppLogTail;
  private readonly probe: ResidentProbe;
  private masterPid = 0;

  constructor(private readonly options: RemoteStatusOptions) {
    this.log = new AppLogTail(options.probe.logFile !== '');
    this.probe = new ResidentProbe(options.shell, probeCommand(options.probe));
  }

  async snapshot(): Promise<HostSnapshot> {
    const probe = this.options.kind === 'http' ? await this.probeUntilStatusAnswers() : await this.runProbe();
    const evidence = this.log.evidence(this.masterPid);
    const snapshot = this.options.kind === 'http' ? snapshotFromHttp(probe, this.httpStatus(probe), evidence) : snapshotFromProcesses(probe, evidence);
    if (snapshot.masters.length === 1) this.masterPid = snapshot.masters[0]!.pid;
    return snapshot;
  }

  markSignal(): void {
    this.log.markSignal();
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
