/**
 * How much of a long text a message shows: a command line, or what a host
 * printed. One place, so every message cuts the same way and says it did.
 */

/** The most of a command line a message or a plan shows: enough to tell which command it was. */
export const COMMAND_SHOWN_CHARS = 120;
/** The most of a host's text (a command's stderr, an owner record's field) a message shows. */
export const HOST_TEXT_SHOWN_CHARS = 300;

/** A command line as messages name it: on one line (its line breaks as `; `), its start, at most COMMAND_SHOWN_CHARS with the mark of a cut. */
export function shownCommand(command: string): string {
  const line = command.replace(/\s*\n\s*/g, '; ');
  return line.length > COMMAND_SHOWN_CHARS ? `${line.slice(0, COMMAND_SHOWN_CHARS - 1)}…` : line;
}

/**
 * Text from a host as messages show it: controls as spaces, on one line,
 * trimmed, and cut to its end, at most HOST_TEXT_SHOWN_CHARS with the mark: a failing command's
 * reason is at the end of what it printed.
 */
export function shownHostText(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > HOST_TEXT_SHOWN_CHARS ? `…${line.slice(1 - HOST_TEXT_SHOWN_CHARS)}` : line;
}
