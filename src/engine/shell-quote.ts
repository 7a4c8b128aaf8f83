/**
 * Remote commands travel as one string and are parsed by the login shell of
 * the remote user, so every part that carries a value is quoted here. POSIX
 * single quotes leave every byte literal except the quote itself.
 */
export function quote(part: string): string {
  if (part.includes('\0')) {
    throw new Error('a remote command argument cannot contain a NUL byte');
  }
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(part)) return part;
  return `'${part.replaceAll("'", `'\\''`)}'`;
}

/** Joins argv-style parts into one remote command line, each part quoted. */
export function commandLine(parts: readonly string[]): string {
  return parts.map(quote).join(' ');
}
