/** Lines of a user's command kept for the report and the summary; every line goes to the log as it comes. */
export const KEPT_LINES = 20;
/** A line longer than this is cut: one command must not flood the log. */
export const LINE_CHARS = 1000;

/** Takes a command's output line by line: each cut to LINE_CHARS and handed on, the last KEPT_LINES kept. */
export class OutputLines {
  readonly last: string[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  readonly take = (line: string): void => {
    const shown = line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS)}…` : line;
    this.last.push(shown);
    if (this.last.length > KEPT_LINES) this.last.shift();
    this.onLine(shown);
  };
}
