import { DEFAULT_MAX_OUTPUT_BYTES, describeExit, RemoteCommandTimeout, RemoteOutputTooLarge, type RemoteShell, type RemoteStream } from '../engine/ports.js';
import { StatusSourceError } from './status-source.js';

/** A question waiting for its line. */
interface Pending {
  readonly resolve: (line: string) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One long-running remote command that answers each request line with one
 * line: the host probe, kept running for the whole rollout so a poll is a
 * round trip on an open channel instead of a channel, a process and a PHP
 * start. Questions are asked one at a time. A probe that dies, hangs or
 * floods is closed, the question fails, and the next question starts a
 * fresh one.
 */
export class ResidentProbe {
  private stream: RemoteStream | undefined;
  private starting: Promise<RemoteStream> | undefined;
  private buffered = '';
  private stderr = '';
  private pending: Pending | undefined;
  private closed = false;

  constructor(
    private readonly shell: RemoteShell,
    private readonly command: string,
    private readonly maxLineBytes: number = DEFAULT_MAX_OUTPUT_BYTES,
  ) {}

  /** Sends one request line and resolves with the answer line (without its newline); the timeout covers starting the probe. */
  async ask(request: string, timeoutMs: number): Promise<string> {
    if (this.pending) throw new Error('the probe answers one question at a time');
    if (this.closed) throw new StatusSourceError('the host probe was stopped');
    const started = Date.now();
    let opening: NodeJS.Timeout | undefined;
    const stream = await Promise.race([
      this.open(),
      new Promise<never>((_, reject) => (opening = setTimeout(() => reject(new RemoteCommandTimeout(this.command, timeoutMs)), timeoutMs))),
    ]).finally(() => clearTimeout(opening));
    return new Promise<string>((resolve, reject) => {
      const left = Math.max(0, timeoutMs - (Date.now() - started));
      const timer = setTimeout(() => this.fail(new RemoteCommandTimeout(this.command, timeoutMs)), left);
      this.pending = {
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      stream.io.write(request);
      this.deliver();
    });
  }

  /** Ends the probe: its stdin closes, so it exits; a probe that does not is killed with its channel. No question is answered after. */
  close(): void {
    this.closed = true;
    this.shut();
  }

  /** Ends the running probe; the next question starts a new one. */
  private shut(): void {
    const stream = this.stream;
    this.stream = undefined;
    this.starting = undefined;
    if (!stream) return;
    stream.io.end();
    stream.close();
  }

  private open(): Promise<RemoteStream> {
    if (this.stream) return Promise.resolve(this.stream);
    if (!this.shell.stream) return Promise.reject(new StatusSourceError('this connection cannot keep the host probe running'));
    this.starting ??= this.shell.stream(this.command).then((stream) => this.attach(stream));
    return this.starting.finally(() => (this.starting = undefined));
  }

  private attach(stream: RemoteStream): RemoteStream {
    this.stream = stream;
    this.buffered = '';
    this.stderr = '';
    stream.io.setEncoding('utf8');
    stream.io.on('data', (chunk: string) => {
      this.buffered += chunk;
      this.deliver();
    });
    stream.io.on('error', () => undefined);
    stream.stderr.setEncoding('utf8');
    stream.stderr.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-4096)));
    void stream.ended.then((end) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      const how = end.lost ?? describeExit(end);
      this.fail(new StatusSourceError(`the host probe ended (${how})${this.stderr.trim() ? `: ${this.stderr.trim().slice(-300)}` : ''}`), false);
    });
    return stream;
  }

  /** Hands a complete line to the question waiting for it. */
  private deliver(): void {
    if (!this.pending) return;
    const end = this.buffered.indexOf('\n');
    if (end === -1) {
      if (Buffer.byteLength(this.buffered) > this.maxLineBytes) this.fail(new RemoteOutputTooLarge(this.command, this.maxLineBytes, 'stdout'));
      return;
    }
    const line = this.buffered.slice(0, end);
    this.buffered = this.buffered.slice(end + 1);
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(line);
  }

  /** The waiting question fails; the probe is shut (unless it already ended), so the next question starts afresh. */
  private fail(error: Error, shut = true): void {
    const pending = this.pending;
    this.pending = undefined;
    if (shut) this.shut();
    pending?.reject(error);
  }
}
