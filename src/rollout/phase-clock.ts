import type { RolloutLog } from '../engine/ports.js';
import type { Phase, PhaseName } from '../engine/report/report.js';

/**
 * One host's phases as they happen: recorded for the report's timeline, and
 * marked in the log. A host logging alone (a batch of one) gets a log group
 * per phase; hosts running side by side get a header line per phase
 * instead, since groups cannot nest and their lines interleave.
 */
export interface PhaseClock {
  /** Starts a phase, ending the open one (if any) as ok. */
  begin(name: PhaseName): void;
  /** Ends the open phase, if any. */
  end(ok: boolean): void;
  /** The phases ended so far, in order. */
  readonly phases: readonly Phase[];
  /** Whether no other host logs meanwhile, so a phase may be a group of its own. */
  alone: boolean;
}

/** A clock for `label`'s phases; without a log it only records (a rollback's inner deploy). */
export function phaseClock(label: string, now: () => number, log?: RolloutLog): PhaseClock {
  const ended: Phase[] = [];
  let open: { name: PhaseName; start: number; grouped: boolean } | undefined;
  const clock: PhaseClock = {
    alone: false,
    begin(name) {
      clock.end(true);
      const grouped = clock.alone && log?.startGroup !== undefined;
      if (grouped) log!.startGroup!(`${label}: ${name}`);
      else log?.info(`${label}: ▶ ${name}`);
      open = { name, start: now(), grouped };
    },
    end(ok) {
      if (open === undefined) return;
      ended.push({ name: open.name, start: open.start, end: now(), ok });
      if (open.grouped) log?.endGroup?.();
      open = undefined;
    },
    get phases() {
      return [...ended];
    },
  };
  return clock;
}
