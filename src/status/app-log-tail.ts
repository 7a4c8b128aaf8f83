import { sawReloadStart } from '../engine/verdict/app-log.js';

/** Keeps at most this much of the log written since the signal. */
const KEEP = 256 * 1024;
/** How much of the log's end is read once before the signal, to see whether the master writes to it. */
const SAMPLE = 64 * 1024;

/**
 * Follows the app log through the probe's reads: before the signal its size
 * is tracked and its last 64 KiB read once (do its lines come from the
 * running master?), after it every new byte is kept.
 */
export class AppLogTail {
  /** Where the next read starts; -1 asks the probe for the size only. */
  offset = -1;
  private collecting = false;
  private text = '';
  /** Once the master's "reloading" line is seen it stays seen, even after the kept text scrolls past it. */
  private started = false;
  /** The log's size at the first read, while its end is being sampled. */
  private sampledFrom: number | undefined;
  /** The end of the log as it was before the signal. */
  private before = '';

  constructor(private readonly known: boolean) {}

  /** Takes one probe read: `end` is where it stopped, `text` what it read from `offset`. */
  feed(read: { end: number; text: string } | undefined): void {
    if (!read) return;
    if (this.collecting && this.offset >= 0) this.text = (this.text + read.text).slice(-KEEP);
    else if (this.sampledFrom !== undefined) this.before = read.text;
    if (!this.collecting && this.offset < 0) {
      this.sampledFrom = read.end;
      this.offset = Math.max(0, read.end - SAMPLE);
      return;
    }
    this.sampledFrom = undefined;
    this.offset = read.end;
  }

  markSignal(): void {
    this.collecting = true;
    this.text = '';
    this.started = false;
    // From where the log ended before the signal; a log that did not exist then is read from its first byte.
    if (this.sampledFrom !== undefined) this.offset = this.sampledFrom;
    if (this.offset < 0) this.offset = 0;
    this.sampledFrom = undefined;
  }

  get sinceSignal(): string {
    return this.text;
  }

  /**
   * Whether the master has logged that the reload began; undefined when the
   * log cannot say. Silence after the signal means the master ignored it
   * only if the master is known to write to this log: its pid on a line
   * before the signal (a log-file typo, or a log the master cannot write,
   * stays silent for another reason).
   */
  evidence(masterPid: number): boolean | undefined {
    if (!this.known || !this.collecting) return undefined;
    // Each poll would otherwise rescan up to KEEP bytes.
    this.started ||= sawReloadStart(this.text, masterPid);
    if (this.started) return true;
    return this.before.includes(`pid:${masterPid} `) ? false : undefined;
  }
}
