import { InputError } from './input-error.js';

/**
 * Whether a source can be the app's tree, checked before any host is
 * touched: it must hold the start file at the same path relative to it as
 * each target does. A source that does not (a docs folder, /etc through a
 * symlink) would replace the app, vendor/ included, and a rollback could not
 * even reload. Pure: the caller reads the disk.
 */
export interface SourceSeen {
  /** The source input as given. */
  readonly given: string;
  /** The directory it names, relative to the workspace. */
  readonly looked: string;
  /** Where it resolves, symbolic links followed. */
  readonly real: string;
}

export function sourceStartFileError(source: SourceSeen, startFiles: readonly string[], holds: ReadonlySet<string>): InputError | undefined {
  const missing = [...new Set(startFiles)].filter((startFile) => !holds.has(startFile));
  if (missing.length === 0) return undefined;
  const where = source.real === source.looked ? source.looked : `${source.looked}, a symbolic link to ${source.real}`;
  const files = missing.map((startFile) => `"${startFile}"`).join(', ');
  return new InputError(
    'source',
    `"${source.given}" holds no start file ${files} (looked in ${where}); expected the app's tree, with the start file at the same path as in the target. Nothing was sent to any host`,
  );
}
