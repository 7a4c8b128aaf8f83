// What every benchmark module exports, and what the entry gives it.
import type { Section } from './markdown.js';

export interface BenchContext {
  /** Fewer runs: figures to glance at while working, not to quote. */
  readonly quick: boolean;
  /** Progress for the terminal; not part of the report. */
  log(line: string): void;
}

export interface Benchmark {
  /** The name that selects it on the command line (npm run bench -- overhead). */
  readonly name: string;
  run(context: BenchContext): Promise<Section>;
}
