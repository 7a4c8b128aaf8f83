import { open } from 'node:fs/promises';

/**
 * The most of a settings file (config, inventory, a -file option) read:
 * far beyond any real one (200,000 exclude lines fit), and small enough
 * that a hostile file costs seconds and megabytes, not minutes and gigabytes.
 */
export const SETTINGS_FILE_LIMIT_BYTES = 4 * 1024 * 1024;

export class FileTooLarge extends Error {}

/** A text file, refused unread past `limit` bytes (one more is read, so a file that grows while read is caught too). */
export async function readBoundedText(path: string, limit = SETTINGS_FILE_LIMIT_BYTES): Promise<string> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(limit + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, filled, buffer.length - filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled > limit) throw new FileTooLarge(`it is over ${limit / 1024 / 1024} MiB, the most a settings file may be`);
    }
    return buffer.toString('utf8', 0, filled);
  } finally {
    await file.close();
  }
}

/** Why a file could not be read, in a few words: its errno code, or that it is too large. */
export function unreadable(error: unknown): string {
  if (error instanceof FileTooLarge) return error.message;
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}
