import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

/** The repository root, wherever the test runner was started. */
export const REPO = resolve(import.meta.dirname, '../..');

export function repoFile(path: string): string {
  return readFileSync(join(REPO, path), 'utf8');
}

/** The documentation: the README, the front page, and every page of docs/ it links to. */
export function docPages(): string[] {
  const pages = readdirSync(join(REPO, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...pages];
}

/** A fenced code block of a Markdown file: its language, its text (indentation removed) and the line of its first text line. */
export interface CodeBlock {
  readonly lang: string;
  readonly text: string;
  readonly line: number;
}

/** Every fenced block, also those indented under a list item. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const open = /^( *)```(\w*)\s*$/.exec(lines[index]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !new RegExp(`^ {${indent}}\`\`\`\\s*$`).test(lines[end]!)) body.push(lines[end++]!.slice(indent));
    if (end === lines.length) throw new Error(`the code block opened on line ${index + 1} is never closed`);
    blocks.push({ lang: open[2]!, text: `${body.join('\n')}\n`, line: index + 2 });
    index = end;
  }
  return blocks;
}

/**
 * The rows of every table whose header is exactly `header`, as trimmed cell
 * texts. Cells holding a literal `|` are not supported (none of ours do).
 */
export function tableRows(markdown: string, header: readonly string[]): string[][] {
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split('|')
      .map((cell) => cell.trim());
  const rows: string[][] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index + 1 < lines.length; index++) {
    if (!lines[index]!.trim().startsWith('|') || cells(lines[index]!).join('|') !== header.join('|')) continue;
    for (index += 2; index < lines.length && lines[index]!.trim().startsWith('|'); index++) rows.push(cells(lines[index]!));
  }
  return rows;
}

export interface ActionMetadata {
  readonly name?: unknown;
  readonly description?: unknown;
  readonly branding?: { readonly icon?: unknown; readonly color?: unknown };
  readonly inputs: Record<string, { readonly description?: unknown; readonly required?: unknown; readonly default?: unknown }>;
  readonly outputs: Record<string, { readonly description?: unknown }>;
  readonly runs?: { readonly using?: unknown; readonly main?: unknown };
}

export function actionMetadata(): ActionMetadata {
  return parse(repoFile('action.yml')) as ActionMetadata;
}
