import { sealHostText } from '../engine/report/host-text.js';
import type { HostReport, Phase } from '../engine/report/report.js';

/**
 * The rollout's timeline as a Mermaid gantt chart (GitHub renders it in a
 * job summary): a section per host, a bar per phase, failed phases marked
 * crit (red), rollbacks active. Pure text.
 */

/** Mermaid reads `:`, `;`, `#` and `%` as syntax in a section title, and may read `<` `>` as markup: each becomes a look-alike. */
const MERMAID_LOOK_ALIKES: Readonly<Record<string, string>> = { ':': '∶', ';': '⁏', '#': '♯', '%': '％', '<': '‹', '>': '›' };

/** Host text as one safe line of a Mermaid diagram. */
export function mermaidText(text: string): string {
  const safe = sealHostText(text)
    .replace(/[:;#%<>]/g, (character) => MERMAID_LOOK_ALIKES[character]!)
    .trim();
  return safe === '' ? '?' : safe;
}

/** Times as the chart's dateFormat reads them, in UTC: the axis then shows the runner's (UTC) clock. */
function chartTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('T', ' ').replace('Z', '');
}

function bar(phase: Phase): string {
  const tag =
    !phase.ok ? 'crit, '
    : phase.name === 'rollback' ? 'active, '
    : '';
  const label = phase.ok ? phase.name : `${phase.name} (failed)`;
  return `    ${label} :${tag}${chartTime(phase.start)}, ${chartTime(phase.end)}`;
}

/** The chart's Mermaid source, or undefined when no host recorded a phase. Hosts without phases get no section. */
export function rolloutGantt(reports: readonly HostReport[]): string | undefined {
  const timed = reports.filter((report) => (report.phases ?? []).length > 0);
  if (timed.length === 0) return undefined;
  const lines = ['gantt', '    title Rollout timeline (UTC)', '    dateFormat YYYY-MM-DD HH:mm:ss.SSS', '    axisFormat %H:%M:%S', '    todayMarker off'];
  for (const report of timed) {
    lines.push(`    section ${mermaidText(report.host)}`);
    for (const phase of report.phases!) lines.push(bar(phase));
  }
  return lines.join('\n');
}
