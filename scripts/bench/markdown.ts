// BENCHMARKS.md: the goals at a glance, the machine, then one section per
// benchmark with its method and figures. Pure text assembly.

/** One figure the issue sets a goal for, as measured. */
export interface GoalRow {
  readonly figure: string;
  readonly measured: string;
  readonly goal: string;
  /** null: not measured in this run (a failed run, say). */
  readonly met: boolean | null;
}

/** An SVG file written beside BENCHMARKS.md and shown in it. */
export interface Figure {
  /** File name under benchmarks/, e.g. overhead.svg. */
  readonly file: string;
  readonly caption: string;
  readonly svg: string;
}

/** What one benchmark hands back for the report. */
export interface Section {
  readonly title: string;
  readonly goals: readonly GoalRow[];
  /** Markdown: method, tables, notes. */
  readonly body: string;
  readonly figures: readonly Figure[];
}

export interface RunInfo {
  readonly date: string;
  readonly commit: string;
  /** Set when the sources differ from the commit (a working tree with changes). */
  readonly dirty: boolean;
  readonly quick: boolean;
  readonly command: string;
  readonly durationMs: number;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${headers.map(cell).join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

function verdict(met: boolean | null): string {
  return (
    met === null ? 'not measured'
    : met ? 'met'
    : 'not met'
  );
}

export function renderDocument(run: RunInfo, machine: readonly (readonly [string, string])[], sections: readonly Section[], figuresDir: string): string {
  const goals = sections.flatMap((s) => s.goals);
  const parts = [
    '# Benchmarks',
    '',
    `Written by \`${run.command}\` on ${run.date}, commit \`${run.commit}\`${run.dirty ? ' plus uncommitted changes to src/' : ''}` +
      `${run.quick ? ', **quick mode** (fewer runs: read the figures as rough)' : ''}; the run took ${Math.round(run.durationMs / 60_000)} min.`,
    '',
    'Every host is a real OpenSSH sshd on loopback in its own mount namespace with real Workerman (the test rig, `test/rig/rig.ts`); ' +
      'the action is `node dist/index.cjs` run as a GitHub runner runs it (`test/rig/action-runner.ts`). The machine is shared and noisy, ' +
      'so the figures that matter are ratios and counts, measured side by side in one run (the runs of what is compared are interleaved) ' +
      'and taken as medians of several runs. Times in seconds are given for context only.',
    '',
    '## Goals',
    '',
    goals.length ?
      table(
        ['figure', 'measured', 'goal', ''],
        goals.map((g) => [g.figure, g.measured, g.goal, verdict(g.met)]),
      )
    : 'No benchmark with a goal ran.',
    '',
    '## Machine',
    '',
    table(
      ['', ''],
      machine.map(([name, value]) => [name, value]),
    ),
    '',
  ];
  for (const section of sections) {
    parts.push(`## ${section.title}`, '', section.body.trim(), '');
    for (const figure of section.figures) parts.push(`![${figure.caption}](${figuresDir}/${figure.file})`, '');
  }
  return parts.join('\n');
}

/** The heading of BENCHMARKS.md's hand-written part: what the figures mean and what bought them. */
export const HAND_WRITTEN_HEADING = '## How fast, and why';

/**
 * A freshly rendered BENCHMARKS.md with the hand-written part of the file it
 * replaces (from HAND_WRITTEN_HEADING to the end) carried over: a run rewrites
 * the figures, never the narrative, which its author updates from them.
 */
export function keepHandWritten(rendered: string, previous: string | undefined): string {
  const start = previous === undefined ? -1 : previous.search(new RegExp(`^${HAND_WRITTEN_HEADING}$`, 'm'));
  if (start === -1) return rendered;
  return `${rendered.trimEnd()}\n\n${previous!.slice(start)}`;
}
