/**
 * Parser for the table `php start.php status` prints. Workerman 4.x and 5.x
 * print different headers and column widths, so columns are found by name in
 * the header line, never by position. Rows for workers that did not answer in
 * time carry `N/A` and `[busy]`.
 */

export interface ExitRow {
  readonly group: string;
  readonly exitStatus: number;
  readonly exitCount: number;
}

export interface ProcessRow {
  readonly pid: number;
  readonly group: string;
  readonly listening: string;
  /** Open connections, or null when the worker was too busy to answer. */
  readonly connections: number | null;
  readonly totalRequests: number | null;
  readonly state: string;
}

export type StatusReport =
  | { readonly running: false; readonly text: string }
  | {
      readonly running: true;
      readonly workermanVersion: string | null;
      readonly exits: readonly ExitRow[];
      readonly processes: readonly ProcessRow[];
    };

export class StatusParseError extends Error {
  constructor(problem: string, text: string) {
    const excerpt = text.trim().split('\n').slice(0, 6).join(' | ').slice(0, 300);
    super(`cannot read the output of "status": ${problem}. It began: ${excerpt === '' ? '(nothing)' : excerpt}`);
    this.name = 'StatusParseError';
  }
}

const NOT_RUN = /^Workerman\[[^\]]*\] not run\s*$/m;

function toCount(text: string | undefined): number | null {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : null;
}

/**
 * Splits a row whose one free-text column (the group name, which may hold
 * spaces) sits between fixed-shape columns: `before` fields are taken from the
 * left, `after` fields from the right, and the rest is the name.
 */
function splitAround(line: string, before: number, after: number): { left: string[]; middle: string; right: string[] } | null {
  const fields = line.trim().split(/\s+/);
  if (fields.length < before + after + 1) return null;
  return {
    left: fields.slice(0, before),
    middle: fields.slice(before, fields.length - after).join(' '),
    right: fields.slice(fields.length - after),
  };
}

function parseExitRows(lines: readonly string[], text: string): ExitRow[] {
  const headerIndex = lines.findIndex((line) => /\bexit_status\b/.test(line) && /\bexit_count\b/.test(line));
  if (headerIndex < 0) return [];
  const header = lines[headerIndex]!.trim().split(/\s+/);
  const nameColumn = header.findIndex((column) => column === 'name' || column === 'worker_name');
  if (nameColumn !== 0) throw new StatusParseError('the exit table has no name column first', text);
  const after = header.length - 1;
  const rows: ExitRow[] = [];
  for (const line of lines.slice(headerIndex + 1)) {
    if (/^-{5,}/.test(line.trim()) || line.trim() === '') break;
    const parts = splitAround(line, 0, after);
    if (!parts) throw new StatusParseError(`an exit row has too few columns: "${line.trim()}"`, text);
    const column = (name: string) => parts.right[header.indexOf(name) - 1];
    const exitStatus = toCount(column('exit_status'));
    const exitCount = toCount(column('exit_count'));
    if (exitStatus === null || exitCount === null) throw new StatusParseError(`an exit row is not numeric: "${line.trim()}"`, text);
    rows.push({ group: parts.middle, exitStatus, exitCount });
  }
  return rows;
}

function parseProcessRows(lines: readonly string[], text: string): ProcessRow[] {
  const headerIndex = lines.findIndex((line) => /^pid\s/.test(line.trim()) && /\blistening\b/.test(line));
  if (headerIndex < 0) throw new StatusParseError('no process table (no "pid ... listening ..." header)', text);
  const header = lines[headerIndex]!.trim().split(/\s+/);
  const nameIndex = header.findIndex((column) => column === 'name' || column === 'worker_name');
  if (nameIndex < 0) throw new StatusParseError('the process table has no name column', text);
  const after = header.length - nameIndex - 1;
  const right = (parts: { right: string[] }, name: string) => {
    const index = header.indexOf(name);
    return index > nameIndex ? parts.right[index - nameIndex - 1] : undefined;
  };
  const rows: ProcessRow[] = [];
  for (const line of lines.slice(headerIndex + 1)) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (/^-{5,}/.test(trimmed) || trimmed.startsWith('Summary')) break;
    const parts = splitAround(line, nameIndex, after);
    const pid = parts ? toCount(parts.left[0]) : null;
    if (!parts || pid === null || pid === 0) throw new StatusParseError(`a process row is not "pid ... name ...": "${trimmed}"`, text);
    rows.push({
      pid,
      group: parts.middle,
      listening: parts.left[header.indexOf('listening')] ?? '',
      connections: toCount(right(parts, 'connections')),
      totalRequests: toCount(right(parts, 'total_request')),
      state: (right(parts, 'status') ?? '').replace(/^\[|\]$/g, ''),
    });
  }
  return rows;
}

export function parseStatusTable(text: string): StatusReport {
  if (NOT_RUN.test(text)) return { running: false, text: text.trim() };
  const lines = text.replace(/\r/g, '').split('\n');
  const version = /Workerman(?:\/| version:)(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? null;
  if (!lines.some((line) => /-{3,}\s*PROCESS STATUS\s*-{3,}/.test(line))) {
    throw new StatusParseError('no PROCESS STATUS section', text);
  }
  return { running: true, workermanVersion: version, exits: parseExitRows(lines, text), processes: parseProcessRows(lines, text) };
}

/** Status 9 is SIGKILL: the master's kill after stopTimeout in a quick reload, not a crash. */
const KILLED = 9;

/** Crash exits per group (non-zero, not SIGKILL): the figure a crash loop drives up. */
export function crashExitsByGroup(exits: readonly ExitRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of exits) {
    if (row.exitStatus !== 0 && row.exitStatus !== KILLED) counts.set(row.group, (counts.get(row.group) ?? 0) + row.exitCount);
  }
  return counts;
}
