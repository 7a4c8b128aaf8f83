import { formatDuration } from '../engine/units.js';
import { statusOf, tallyHosts, tallyLine, whyNotOk } from '../engine/report/host-outcome.js';
import { sealHostText } from '../engine/report/host-text.js';
import { describeMasterChange } from '../engine/plan/master-change.js';
import { describeRestartCost } from '../engine/verdict/restart-verdict.js';
import type { HostReport, HostStatus } from '../engine/report/report.js';
import { rolloutGantt } from './rollout-gantt.js';

/**
 * The job summary (GITHUB_STEP_SUMMARY) as Markdown, from the reports alone:
 * a table with a row per host and a totals row, the timeline, and the app's
 * error lines for a failed reload. Pure: the action writes it out.
 */

/** The most of one cell's text shown; the report output has all of it. */
const CELL_MAX_CHARS = 600;
/** The most hosts drawn in the timeline: past that the chart is too tall to read (and slow to render). */
const TIMELINE_MAX_HOSTS = 50;
/** The most app error lines quoted per host. */
const APP_ERRORS_SHOWN = 10;

/**
 * Text as one table cell: on one line (host text sealed: line breaks shown
 * as ⏎), and every character Markdown or HTML would act on escaped, `|`
 * first among them, so host text can neither end the cell nor add markup.
 */
export function markdownCell(text: string, maxChars = CELL_MAX_CHARS): string {
  const sealed = sealHostText(text);
  const shown = sealed.length > maxChars ? `${sealed.slice(0, maxChars)}…` : sealed;
  return shown.replace(/[\\`*_{}[\]<>|~&!#]/g, (character) => `\\${character}`);
}

/** `web 4, task 1`: how many of each group, in first-seen order. */
function byGroup(workers: readonly { readonly group: string }[]): string {
  const counts = new Map<string, number>();
  for (const { group } of workers) counts.set(group, (counts.get(group) ?? 0) + 1);
  return [...counts].map(([group, count]) => `${group} ${count}`).join(', ');
}

/** Each status in words, and the mark its result cell gets. */
const STATUS: Readonly<Record<HostStatus, { readonly mark: string; readonly words: string }>> = {
  ok: { mark: '✅', words: 'ok' },
  failed: { mark: '❌', words: 'failed' },
  'rolled-back': { mark: '↩️', words: 'rolled back' },
  skipped: { mark: '⏭️', words: 'skipped' },
  cancelled: { mark: '⏹️', words: 'cancelled' },
  planned: { mark: '📝', words: 'planned' },
};

/** How many workers a row counts as replaced (a restart replaces them all: its new workers count). */
function replacedCount(report: HostReport): number {
  if (report.action === 'restart') return report.ok ? (report.workers?.length ?? 0) : 0;
  return report.replacement?.replaced ?? report.replaced?.length ?? 0;
}

function replacedCell(report: HostReport): string {
  const forced = report.forced && report.forced.length > 0 ? `; ${report.forced.length} stopped to unpin (${byGroup(report.forced)})` : '';
  if (report.action === 'restart' && report.ok) return `all, by a restart: ${report.workers?.length ?? 0} new (${byGroup(report.workers ?? [])})`;
  if (report.ok && report.replaced) return `${report.replaced.length} (${byGroup(report.replaced)})${forced}`;
  if (report.replacement) {
    const stillOld = report.stillOld && report.stillOld.length > 0 ? `; still old: ${byGroup(report.stillOld)}` : '';
    return `${report.replacement.replaced} of ${report.replacement.of}${stillOld}${forced}`;
  }
  if (report.dryRun) return report.dryRun.replacedGroups.length > 0 ? `would replace: ${report.dryRun.replacedGroups.join(', ')}` : 'none';
  return '—';
}

function keptCell(report: HostReport): string {
  if (report.kept && report.kept.length > 0) {
    const why = new Map<string, string>();
    for (const worker of report.kept) why.set(worker.group, worker.keptBecause);
    return `${report.kept.length} (${[...why].map(([group, because]) => `${group}: ${because}`).join('; ')})`;
  }
  if (report.dryRun && report.dryRun.keptGroups.length > 0)
    return report.dryRun.keptGroups.map(({ group, keptBecause }) => `${group}: ${keptBecause}`).join('; ');
  return report.kept ? '0' : '—';
}

function filesCell(report: HostReport): string {
  if (report.sync) return `${report.sync.filesTransferred} / ${report.sync.filesDeleted}`;
  if (report.dryRun?.files) return `would be ${report.dryRun.files.changed} / ${report.dryRun.files.deleted}`;
  return report.filesChanged ? 'may have changed (the sync did not finish)' : 'none';
}

/** `; ports unserved 144 ms, 1 client connection(s) closed` for a restart that measured its cost. */
function costWords(report: HostReport): string {
  const words = report.restartCost ? describeRestartCost(report.restartCost) : '';
  return words ? `; ${words}` : '';
}

/** `; drain exit 0, before-reload exit 0, undrain exit 0`, and whether the host was left out of its load balancer. */
function commandWords(report: HostReport): string {
  const commands = (report.commands ?? []).map((command) => `${command.name} ${command.exit}`).join(', ');
  if (report.leftDrained) return `; LEFT DRAINED (${commands})`;
  return commands ? `; ${commands}` : '';
}

function actionCell(report: HostReport): string {
  return actionWords(report) + costWords(report) + commandWords(report);
}

function actionWords(report: HostReport): string {
  if (report.action === 'restart') return `restart (${report.restartBecause ? describeMasterChange(report.restartBecause) : 'a master-level change'})`;
  if (report.action === 'reload') return `${report.reloadMode ?? ''} reload${report.reloadModeReason ? ` (${report.reloadModeReason})` : ''}`.trim();
  if (report.dryRun) {
    const { action, actionBecause, batch } = report.dryRun;
    return `would ${action} (${actionBecause}), in batch ${batch.index} of ${batch.of}${batch.canary ? ' as the canary' : ''}`;
  }
  return '—';
}

/** `abcdef123456`: a full commit hash shortened as GitHub shows it; any other revision as given. */
function shortRevision(revision: string | undefined): string {
  if (revision === undefined) return '—';
  return /^[0-9a-f]{40}$/.test(revision) ? revision.slice(0, 12) : revision;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

const HEADER = ['Host', 'Result', 'Workers replaced', 'Workers kept', 'Files changed / deleted', 'Reload or restart', 'Duration', 'Revision', 'Why it failed'];

function hostRow(report: HostReport): string {
  const status = statusOf(report);
  const untouched = status === 'skipped' || status === 'cancelled';
  return row([
    markdownCell(report.host),
    `${STATUS[status].mark} ${STATUS[status].words}`,
    markdownCell(replacedCell(report)),
    markdownCell(keptCell(report)),
    markdownCell(filesCell(report)),
    markdownCell(actionCell(report)),
    untouched ? '—' : formatDuration(report.durationMs),
    markdownCell(shortRevision(report.revision)),
    markdownCell(whyNotOk(report)),
  ]);
}

function totalsRow(reports: readonly HostReport[], tookMs: number): string {
  const tally = tallyHosts(reports);
  const statuses = (Object.keys(STATUS) as HostStatus[]).filter((status) => tally[status] > 0).map((status) => `${tally[status]} ${STATUS[status].words}`);
  const sum = (count: (report: HostReport) => number) => reports.reduce((total, report) => total + count(report), 0);
  const revisions = [...new Set(reports.map((report) => report.revision).filter((revision) => revision !== undefined))];
  return row([
    `**Total: ${reports.length}**`,
    statuses.join(', '),
    String(sum(replacedCount)),
    String(sum((report) => report.kept?.length ?? 0)),
    `${sum((report) => report.sync?.filesTransferred ?? 0)} / ${sum((report) => report.sync?.filesDeleted ?? 0)}`,
    '',
    `${formatDuration(tookMs)} in all`,
    revisions.length === 1 ? markdownCell(shortRevision(revisions[0])) : '',
    '',
  ]);
}

/** A fence for a code block that no run of backticks inside it can close. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  return '`'.repeat(Math.max(3, longest + 1));
}

/** HTML text (a <summary>): no tag can start in it. */
function htmlText(text: string): string {
  return sealHostText(text).replace(/[&<>]/g, (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[character]!);
}

/** A folded block of host text under a heading, one per host that has some. */
function hostTextSection(heading: string, blocks: readonly { readonly host: string; readonly title: string; readonly lines: readonly string[] }[]): string[] {
  if (blocks.length === 0) return [];
  const lines = ['', `### ${heading}`];
  for (const block of blocks) {
    const shown = block.lines.map((line) => sealHostText(line).slice(0, CELL_MAX_CHARS));
    const fence = fenceFor(shown.join('\n'));
    lines.push('', `<details open><summary>${htmlText(block.host)}: ${htmlText(block.title)}</summary>`, '', `${fence}text`, ...shown, fence, '', '</details>');
  }
  return lines;
}

function appErrorsSection(reports: readonly HostReport[]): string[] {
  const failing = reports.filter((report) => (report.appErrors ?? []).length > 0);
  return hostTextSection(
    'What the app logged',
    failing.map((report) => ({
      host: report.host,
      title: `${report.appErrors!.length} PHP error line(s) after the reload signal, most frequent first`,
      lines: report.appErrors!.slice(0, APP_ERRORS_SHOWN),
    })),
  );
}

/** The last lines of every command of the user's that failed. */
function commandsSection(reports: readonly HostReport[]): string[] {
  const failed = reports.flatMap((report) => (report.commands ?? []).filter((command) => !command.ok).map((command) => ({ report, command })));
  return hostTextSection(
    'What the commands said',
    failed.map(({ report, command }) => ({
      host: report.host,
      title: `${command.name} ${command.exit}, its last lines`,
      lines: command.lastLines.length ? command.lastLines : ['(no output)'],
    })),
  );
}

function timelineSection(reports: readonly HostReport[]): string[] {
  const drawn = reports.slice(0, TIMELINE_MAX_HOSTS);
  const chart = rolloutGantt(drawn);
  if (chart === undefined) return [];
  const note = reports.length > drawn.length ? [`The first ${drawn.length} of ${reports.length} hosts; the report output has every host's phases.`, ''] : [];
  return ['', '### Timeline', '', ...note, '```mermaid', chart, '```'];
}

/** The whole summary: a heading with the tally, the table, the timeline, and the app's error lines. */
export function jobSummary(reports: readonly HostReport[], tookMs: number): string {
  const lines = [
    '## graceful-reload',
    '',
    markdownCell(tallyLine(tallyHosts(reports), tookMs)),
    '',
    row(HEADER),
    row(HEADER.map(() => '---')),
    ...reports.map(hostRow),
    totalsRow(reports, tookMs),
    ...timelineSection(reports),
    ...appErrorsSection(reports),
    ...commandsSection(reports),
  ];
  return `${lines.join('\n')}\n`;
}
