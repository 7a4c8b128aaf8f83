/**
 * What the app's log (workerman.log) says after the reload signal. Pure text
 * rules: the master's "reloading" line proves it acted on the signal, and the
 * PHP error lines explain a crash loop better than any PID count.
 */

/** Workerman logs `pid:<master> Workerman[<start file>] reloading` when a reload begins, and nothing when it ignores one. */
export function sawReloadStart(text: string, masterPid: number): boolean {
  return new RegExp(`pid:${masterPid} Workerman\\[[^\\]]*\\] reloading`).test(text);
}

/** `s`: Workerman ends a line at \n only, so U+2028 inside a message is part of it (shown sealed, as ⏎), not its end. */
const ERROR_LINE = /pid:\d+\s+((?:PHP )?(?:Fatal error|Parse error|[A-Za-z\\]*(?:Error|Exception))\b.*)$/s;

/**
 * The distinct PHP errors in the log, most frequent first, with how often
 * each occurred; a crash loop repeats the same error many times.
 */
export function phpErrors(text: string, limit = 5): string[] {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = ERROR_LINE.exec(line.trim());
    if (!match) continue;
    const message = match[1]!.trim();
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([message, count]) => (count > 1 ? `${message} (${count} times)` : message));
}
