import { reloadEvidence } from '../engine/app-log.js';

/** Keeps at most this much of the log written since the signal. */
const KEEP = 256 * 1024;

/**
 * Follows the app log through the probe's reads: before the signal only its
 * size is tracked (nothing old is read), after it every new byte is kept.
 */
export class AppLogTail {
  /** Where the next read starts; -1 asks the probe for the size only. */
  offset = -1;
  private collecting = false;
  private text = '';
  /** Once the master's "reloading" line is seen it stays seen, even after the kept text scrolls past it. */
  private started = false;

  constructor(private readonly known: boolean) {}

  /** Takes one probe read: `end` is where it stopped, `text` what it read from `offset`. */
  feed(read: { end: number; text: string } | undefined): void {
    if (!read) return;
    if (this.collecting && this.offset >= 0) this.text = (this.text + read.text).slice(-KEEP);
    this.offset = read.end;
  }

  markSignal(): void {
    this.collecting = true;
    this.text = '';
    this.started = false;
    // A log that did not exist at the baseline is read from its first byte.
    if (this.offset < 0) this.offset = 0;
  }

  get sinceSignal(): string {
    return this.text;
  }

  /** What the log says about the reload, or undefined when there is no live log to ask. */
  evidence(masterPid: number): boolean | undefined {
    if (!this.known || !this.collecting) return undefined;
    if (this.started) return true;
    // Each poll would otherwise rescan up to KEEP bytes.
    const evidence = reloadEvidence(this.text, masterPid);
    this.started = evidence === true;
    return evidence;
  }
}
