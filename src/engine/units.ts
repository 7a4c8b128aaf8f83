/** Durations and sizes: parsing the inputs' durations, and both in words for messages. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `90s`, `5m`, `1m30s`, `250ms`. A bare number is refused: in a
 * workflow file `timeout: 5` is ambiguous, and guessing wrong turns a
 * five-minute budget into five milliseconds.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const pattern = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(pattern)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed += match[0].length;
  }
  if (trimmed === '' || consumed !== trimmed.length) {
    throw new Error(`"${text}" is not a duration: write it like 250ms, 90s, 5m or 1m30s`);
  }
  return Math.round(total);
}

/**
 * `250 ms`, `2.1 s`, `3 min 5 s`, `2 h 4 min`, `3 d 1 h`. With `wholeSeconds`
 * (a time known only to the second, as a host's clock gives a lock's age)
 * under a minute reads `0 s`, `42 s`: no precision it does not have.
 */
export function formatDuration(ms: number, { wholeSeconds = false }: { readonly wholeSeconds?: boolean } = {}): string {
  if (ms < 60_000 && wholeSeconds) return `${Math.floor(ms / 1000)} s`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.floor((ms % 86_400_000) / 3_600_000)} h`;
}

/** `4 MB`, `512 KB`, `300 bytes`. */
export function formatBytes(bytes: number): string {
  const MB = 1024 * 1024;
  if (bytes >= MB) return `${Number((bytes / MB).toFixed(1))} MB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KB`;
  return `${bytes} bytes`;
}
