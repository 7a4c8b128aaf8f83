// What a running process costs, read from /proc while it runs: its peak
// resident memory (VmHWM) and the CPU time it has used. Both only grow, so
// the last reading before the process exits is the figure, to within one
// interval.
import { readFile } from 'node:fs/promises';

export interface ProcessCost {
  /** NaN when the process was never read (it ended before the first look). */
  readonly peakMiB: number;
  /** User plus system CPU time, in 10 ms ticks' resolution. */
  readonly cpuMs: number;
}

const INTERVAL_MS = 20;
/** Linux reports utime and stime in clock ticks of 1/100 s. */
const TICK_MS = 10;

async function read(pid: number): Promise<ProcessCost | null> {
  const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]).catch(() => ['', '']);
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  // Fields after the command name: state is the first, utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (kb === undefined || fields.length < 13) return null;
  return { peakMiB: Number(kb) / 1024, cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
}

/** Reads the process every 20 ms until `stop()`, which returns the last reading. */
export function watchProcess(pid: number): { stop(): ProcessCost } {
  let last: ProcessCost = { peakMiB: Number.NaN, cpuMs: Number.NaN };
  const timer = setInterval(async () => {
    const now = await read(pid);
    if (now !== null) last = now;
  }, INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      return last;
    },
  };
}
