import { sawReloadStart } from '../engine/app-log.js';

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

  /**
   * Whether the master has logged that the reload began, or undefined when
   * there is no log to ask. The log is the one the app's own definitions
   * name (Worker::$logFile after the start script ran), or log-file: it is
   * the master's, so silence after the signal means the master ignored it.
   */
  evidence(masterPid: number): boolean | undefined {
    if (!this.known || !this.collecting) return undefined;
    // Each poll would otherwise rescan up to KEEP bytes.
    this.started ||= sawReloadStart(this.text, masterPid);
    return this.started;
  }
}
