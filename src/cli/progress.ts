import { formatDuration } from '../engine/units.js';
import { sealHostText } from '../engine/report/host-text.js';
import type { RolloutLog } from '../engine/ports.js';

/**
 * What the CLI shows while it runs. On a terminal, a live area at the bottom
 * keeps one line per host (its phase, time and latest step) rewritten in
 * place, with warnings, errors and each host's end scrolling above it;
 * elsewhere (a pipe, a CI log), plain lines, one per message.
 */
export interface Progress {
  readonly log: RolloutLog;
  /** The rollout of these hosts begins: each gets a line. */
  hostsStart(labels: readonly string[]): void;
  /** A host is done: ok (or planned), or not; `status` is the report's. */
  hostEnded(label: string, status: string, ok: boolean): void;
  /** The run is over: the live area is drawn a last time and left as it is. */
  stop(): void;
}

export interface Stream {
  write(text: string): unknown;
  readonly columns?: number;
}

/**
 * Host text made safe for a terminal: sealed like the action's lines (no
 * line break), and every other control character, ESC above all, shown as
 * U+FFFD, so a process title or log line from a host cannot move the cursor,
 * recolour the screen or set the window title.
 */
export function terminalText(text: string): string {
  return sealHostText(text)
    .replace(/\t/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');
}

/** One line per message: information on stdout, warnings, errors (and debug lines when verbose) on stderr. */
export function plainProgress(out: Stream, err: Stream, verbose: boolean): Progress {
  const line = (stream: Stream, prefix: string) => (message: string) => stream.write(`${prefix}${terminalText(message)}\n`);
  return {
    log: {
      info: line(out, ''),
      warning: line(err, 'warning: '),
      error: line(err, 'error: '),
      debug: verbose ? line(err, 'debug: ') : () => undefined,
    },
    hostsStart: () => undefined,
    hostEnded: () => undefined,
    stop: () => undefined,
  };
}

interface HostLine {
  readonly label: string;
  phase: string;
  latest: string;
  started: number | undefined;
  ended: { readonly ok: boolean; readonly at: number } | undefined;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A host's mark: not started, running (the spinner's frame), ended well or not. */
function hostMark(host: HostLine, spinner: string): string {
  if (host.ended) return host.ended.ok ? '✔' : '✖';
  return host.started === undefined ? '·' : spinner;
}

/** One host's line of the live area: mark, label, phase, time and latest step, cut to the terminal's width. */
function hostLine(host: HostLine, hosts: readonly HostLine[], spinner: string, now: number, width: number): string {
  const label = host.label.padEnd(Math.min(24, Math.max(...hosts.map((h) => h.label.length))));
  const time = host.started === undefined ? '' : formatDuration((host.ended?.at ?? now) - host.started);
  const text = `${hostMark(host, spinner)} ${label}  ${host.phase.padEnd(9)} ${time.padStart(9)}  ${host.latest}`;
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** The host a log line is about (`label: ...`), the longest label first so `web-1` does not take `web-10`'s lines. */
function hostOf(hosts: readonly HostLine[], message: string): HostLine | undefined {
  return hosts.filter((host) => message.startsWith(`${host.label}: `)).sort((a, b) => b.label.length - a.label.length)[0];
}

/** The live display's log: `info` for a host's steps (they update its line), the rest scrolls above the live area. */
function liveLog(info: (message: string) => void, above: (text: string) => void, verbose: boolean): RolloutLog {
  return {
    info,
    warning: (message) => above(`warning: ${message}`),
    error: (message) => above(`error: ${message}`),
    debug: verbose ? (message) => above(`debug: ${message}`) : () => undefined,
  };
}

/** The live display for a terminal; `now` and the redraw timer are injectable for tests. */
export function liveProgress(out: Stream, verbose: boolean, now: () => number = Date.now, tickMs = 120): Progress {
  const hosts: HostLine[] = [];
  let drawn = 0;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const width = () => Math.max(40, (out.columns ?? 80) - 1);
  const render = (host: HostLine) => hostLine(host, hosts, SPINNER[frame % SPINNER.length]!, now(), width());
  const clear = () => {
    // To the start of the live area, then erase to the end of the screen.
    if (drawn > 0) out.write(`\x1b[${drawn}F\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    if (hosts.length === 0) return;
    out.write(`${hosts.map(render).join('\n')}\n`);
    drawn = hosts.length;
  };
  const redraw = () => {
    clear();
    draw();
  };
  const above = (text: string) => {
    clear();
    out.write(`${terminalText(text)}\n`);
    draw();
  };
  const info = (message: string) => {
    const host = hostOf(hosts, message);
    if (!host) return above(message);
    const step = terminalText(message.slice(host.label.length + 2));
    if (verbose) above(message);
    host.started ??= now();
    if (step.startsWith('▶ ')) host.phase = step.slice(2);
    else host.latest = step;
    redraw();
  };
  return {
    log: liveLog(info, above, verbose),
    hostsStart(labels) {
      clear();
      hosts.splice(0, hosts.length, ...labels.map((label) => ({ label, phase: 'waiting', latest: '', started: undefined, ended: undefined })));
      draw();
      timer ??= setInterval(() => {
        frame += 1;
        redraw();
      }, tickMs);
      timer.unref();
    },
    hostEnded(label, status, ok) {
      const host = hosts.find((line) => line.label === label);
      if (!host || host.ended) return;
      host.ended = { ok, at: now() };
      host.started ??= host.ended.at;
      host.phase = status;
      redraw();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      redraw();
      drawn = 0;
    },
  };
}
