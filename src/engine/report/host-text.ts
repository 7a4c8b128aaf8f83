/**
 * Sealing text that came from a host (process titles, log lines, command
 * output, error text, file names) before it reaches the runner's stdout.
 *
 * The GitHub runner reads every output line as a possible workflow command:
 * - a line whose text, after .NET's TrimStart (every Unicode white space,
 *   U+0085 and U+00A0 included, which JavaScript's `\s` partly misses),
 *   starts with `::` (`::set-output`, `::add-mask`, `::stop-commands`, ...);
 * - a line containing `##[` anywhere (the older `##[command]` syntax).
 * Lines are split at \n and \r; viewers and other tools also split at \v, \f,
 * U+0085, U+2028, U+2029 and the ASCII separators \x1c-\x1e.
 *
 * sealHostText makes any string safe to print as (part of) one line:
 * - every line break becomes a visible ⏎, so host text can never start a line;
 * - every other control character (ESC, BEL, DEL, the C1 range with its
 *   one-character CSI U+009B) becomes �, so host text cannot move the
 *   cursor, recolour or retitle a terminal or the runner's ANSI-aware log;
 *   a tab stays;
 * - `##[` becomes `# #[`;
 * - text that would start with `::` after invisible leading characters gets a
 *   visible › in front (no zero-width characters: they are invisible to a
 *   reader and some tools strip them).
 * It is idempotent, and ordinary text passes unchanged.
 */

/** Everything treated as a line break by the runner or by something reading the log after it. */
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029]/g;
/** What a line break is shown as. */
export const SHOWN_LINE_BREAK = '⏎';
/** Put before text that would otherwise start with `::`. */
export const COMMAND_MARKER = '›';
/** Leading characters a reader might strip before looking for `::`: white space of every kind, controls, format characters. */
const INVISIBLE_THEN_COLONS = /^[\p{White_Space}\p{Cc}\p{Cf}]*::/u;

/** Controls that are not line breaks (handled first) nor a tab. */
const TERMINAL_CONTROL = /[\x00-\x08\x0e-\x1b\x1f\x7f-\x9f]/g;
/** What a terminal control is shown as. */
export const SHOWN_CONTROL = '\uFFFD';

export function sealHostText(text: unknown): string {
  let sealed = String(text).replace(LINE_BREAK, SHOWN_LINE_BREAK).replace(TERMINAL_CONTROL, SHOWN_CONTROL);
  while (sealed.includes('##[')) sealed = sealed.replaceAll('##[', '# #[');
  if (INVISIBLE_THEN_COLONS.test(sealed)) sealed = COMMAND_MARKER + sealed;
  return sealed;
}

/**
 * For the action's own multi-line text (a generated config file): keeps its
 * \n lines, and seals each one, so whatever is inside cannot act either.
 */
export function sealEachLine(text: string): string {
  return String(text)
    .split('\n')
    .map((line) => sealHostText(line))
    .join('\n');
}

/** How the runner (and the stricter readers after it) split output into lines. */
const RUNNER_LINE_SPLIT = /\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029]/;
const LEADING_WHITE_SPACE = /^[\p{White_Space}]*/u;

/**
 * The lines of some output the runner would act on as workflow commands: the
 * check the tests make over the action's raw stdout. The action's own
 * commands (`::debug::`, `::error::`, `::add-mask::` it issued through
 * @actions/core) are in it too; callers filter those by what they expect.
 */
export function runnerCommandLines(output: string): string[] {
  return output.split(RUNNER_LINE_SPLIT).filter((line) => {
    const trimmed = line.replace(LEADING_WHITE_SPACE, '');
    return trimmed.startsWith('::') || line.includes('##[');
  });
}
