import { formatDuration } from './duration.js';
import type { RolloutLog } from './ports.js';
import { describeWorker, observe, startWatch, type ReloadBaseline, type Verdict, type VerdictRules } from './verdict.js';
import type { HostSnapshot, WorkerProcess } from './worker-snapshot.js';
import { countByGroup } from './worker-snapshot.js';

export interface WatchOptions {
  readonly label: string;
  readonly baseline: ReloadBaseline;
  readonly rules: VerdictRules;
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  readonly snapshot: () => Promise<HostSnapshot>;
  readonly log: RolloutLog;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type WatchOutcome =
  | { readonly ok: true; readonly verdict: Extract<Verdict, { kind: 'replaced' }>; readonly elapsedMs: number }
  | { readonly ok: false; readonly message: string; readonly stillOld: readonly WorkerProcess[]; readonly elapsedMs: number };

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function progressLine(label: string, verdict: Verdict, elapsedMs: number): string {
  const at = `(${formatDuration(elapsedMs)})`;
  switch (verdict.kind) {
    case 'replacing':
      return `${label}: ${verdict.replaced}/${verdict.total} workers replaced ${at}`;
    case 'settling':
      return `${label}: ${verdict.total}/${verdict.total} workers replaced, settling ${at}`;
    case 'replaced':
      return `${label}: all ${verdict.total} workers replaced and stable ${at}`;
    case 'failed':
      return `${label}: ${verdict.message} ${at}`;
  }
}

/** A hint for the commonest reason a group never moves: reloadable = false. */
function untouchedGroupsHint(baseline: ReloadBaseline, stillOld: readonly WorkerProcess[]): string {
  const oldByGroup = countByGroup(stillOld);
  const untouched = [...countByGroup(baseline.tracked)].filter(([group, count]) => oldByGroup.get(group) === count).map(([group]) => group);
  const moved = [...countByGroup(baseline.tracked).keys()].filter((group) => !untouched.includes(group));
  if (untouched.length === 0 || moved.length === 0) return '';
  return ` No worker of ${untouched.join(', ')} was replaced while others were: if ${untouched.length > 1 ? 'those groups have' : 'that group has'} reloadable = false, list ${untouched.length > 1 ? 'them' : 'it'} in ignore-workers.`;
}

/**
 * Polls the host until the verdict is final or the time is up. A progress line
 * is printed only when something changed, so a long reload stays readable.
 */
export async function watchReload(options: WatchOptions): Promise<WatchOutcome> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const started = now();
  let state = startWatch(options.baseline);
  let lastLine = '';
  let last: Verdict | null = null;
  for (;;) {
    const snapshot = await options.snapshot();
    const elapsedMs = now() - started;
    const step = observe(state, snapshot, options.rules);
    state = step.state;
    last = step.verdict;
    const shape = last.kind === 'replacing' ? `r${last.replaced}` : last.kind;
    if (shape !== lastLine) {
      options.log.info(progressLine(options.label, last, elapsedMs));
      lastLine = shape;
    }
    if (last.kind === 'replaced') return { ok: true, verdict: last, elapsedMs };
    if (last.kind === 'failed') return { ok: false, message: last.message, stillOld: [], elapsedMs };
    if (elapsedMs + options.pollIntervalMs > options.timeoutMs) break;
    await sleep(options.pollIntervalMs);
  }
  const elapsedMs = now() - started;
  const stillOld = last.kind === 'replacing' ? last.stillOld : [];
  const where =
    last.kind === 'replacing'
      ? `${last.replaced}/${last.total} workers replaced; still old: ${stillOld.map(describeWorker).join(', ')}.${untouchedGroupsHint(options.baseline, stillOld)}`
      : last.kind === 'settling'
        ? `every worker was replaced but the set of workers did not stay stable for settle`
        : '';
  return { ok: false, message: `the reload did not finish within the timeout (${formatDuration(options.timeoutMs)}): ${where}`, stillOld, elapsedMs };
}
