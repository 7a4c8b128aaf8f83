// The release workflow's checks (.github/workflows/release.yml), run on a
// pushed tag before anything is published:
//
//   node --import tsx scripts/release/release.ts <tag> <notes file>
//
// It refuses a tag that is not vX.Y.Z, a package.json whose version is not
// the tag's, a package.json whose repository is not the one being released
// (npm's provenance would not verify), and a CHANGELOG.md without a section
// for the version. Then it writes that section to <notes file> (the GitHub
// release's text) and prints for $GITHUB_OUTPUT: version=X.Y.Z, major=vX,
// move-major (whether this is the newest vX.*.* tag: a fix to an older line
// must not pull vX back), newest (of all releases: GitHub's "latest") and
// npm-tag (latest, or latest-vX for an older line).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface ReleaseTag {
  /** X.Y.Z, as package.json writes it. */
  readonly version: string;
  /** vX: the tag that follows the newest release of a major version. */
  readonly major: string;
}

/** `vX.Y.Z` (no leading zeros, no pre-release part) into its version and major tag. */
export function parseTag(tag: string): ReleaseTag {
  const match = /^v((0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*))$/.exec(tag);
  if (!match) throw new Error(`the tag ${JSON.stringify(tag)} is not a release tag: expected vX.Y.Z, such as v1.0.0`);
  return { version: match[1]!, major: `v${match[2]}` };
}

/** A version's numbers, for ordering. */
const numbers = (version: string) => version.split('.').map(Number);

/** a before b: -1, 0 or 1, by major, minor, then patch. */
function compareVersions(a: string, b: string): number {
  const [x, y] = [numbers(a), numbers(b)];
  const differs = x.findIndex((part, index) => part !== y[index]);
  return differs === -1 ? 0 : Math.sign(x[differs]! - y[differs]!);
}

/**
 * Where this release stands among the repository's tags (other names, such
 * as the major tags themselves, are ignored): whether it is the newest of its
 * major version, and so moves vX, and the newest of all, and so npm's latest.
 */
export function standing(tag: ReleaseTag, tags: readonly string[]): { newestOfMajor: boolean; newest: boolean } {
  const releases = tags.flatMap((name) => {
    try {
      return [parseTag(name)];
    } catch {
      return [];
    }
  });
  const newer = releases.filter((other) => compareVersions(other.version, tag.version) > 0);
  return { newestOfMajor: !newer.some((other) => other.major === tag.major), newest: newer.length === 0 };
}

/** package.json's version must be the tag's: the package and the action ship as one. */
export function checkVersion(tag: ReleaseTag, packageVersion: unknown): void {
  if (packageVersion !== tag.version) {
    throw new Error(
      `package.json has version ${JSON.stringify(packageVersion)}, but the tag is v${tag.version}: set "version": "${tag.version}" (and a CHANGELOG.md section), commit, and tag that commit`,
    );
  }
}

/** owner/name of a GitHub repository URL in any of the forms npm accepts, or undefined. */
function githubRepository(url: string): string | undefined {
  const match = /^(?:git\+)?(?:https:\/\/|ssh:\/\/git@|git:\/\/)?(?:github\.com[/:]|github:)([\w.-]+\/[\w.-]+?)(?:\.git)?\/?$/.exec(url);
  return match?.[1];
}

/**
 * package.json's repository must be the repository being released: npm
 * checks a provenance statement against it, and refuses the publish otherwise.
 */
export function checkRepository(repository: unknown, githubRepositoryName: string): void {
  const url =
    typeof repository === 'string' ? repository
    : typeof repository === 'object' && repository !== null ? (repository as { url?: unknown }).url
    : undefined;
  const named = typeof url === 'string' ? githubRepository(url) : undefined;
  if (named?.toLowerCase() !== githubRepositoryName.toLowerCase()) {
    throw new Error(
      `package.json's repository is ${JSON.stringify(url ?? repository)}, but this is ${githubRepositoryName}: set "repository": { "type": "git", "url": "git+https://github.com/${githubRepositoryName}.git" }`,
    );
  }
}

/**
 * The text of CHANGELOG.md's section for `version`: the lines under its
 * heading (`## [X.Y.Z] - YYYY-MM-DD`) up to the next section, without the
 * link definitions Keep a Changelog puts at the end of the file.
 */
export function changelogSection(changelog: string, version: string): string {
  const lines = changelog.split('\n');
  const heading = (line: string) => /^## \[?([^\]\s]+)\]?(?: - (\d{4}-\d{2}-\d{2}))?\s*$/.exec(line);
  const start = lines.findIndex((line) => heading(line)?.[1] === version);
  if (start === -1) throw new Error(`CHANGELOG.md has no section for ${version}: expected a heading "## [${version}] - YYYY-MM-DD"`);
  if (heading(lines[start]!)?.[2] === undefined)
    throw new Error(`CHANGELOG.md's heading ${JSON.stringify(lines[start])} has no date: expected "## [${version}] - YYYY-MM-DD"`);
  const next = lines.findIndex((line, index) => index > start && /^## /.test(line));
  const body = lines
    .slice(start + 1, next === -1 ? undefined : next)
    .filter((line) => !/^\[[^\]]+\]: \S+$/.test(line))
    .join('\n')
    .trim();
  if (body === '') throw new Error(`CHANGELOG.md's section for ${version} is empty: say what the release changes`);
  return `${body}\n`;
}

/** Every check for `tag` against the repository's files; the release notes and the outputs. */
export function prepareRelease(
  tag: string,
  files: { packageJson: string; changelog: string },
  githubRepositoryName: string | undefined,
): { tag: ReleaseTag; notes: string } {
  const parsed = parseTag(tag);
  const manifest = JSON.parse(files.packageJson) as { version?: unknown; repository?: unknown };
  checkVersion(parsed, manifest.version);
  if (githubRepositoryName !== undefined) checkRepository(manifest.repository, githubRepositoryName);
  return { tag: parsed, notes: changelogSection(files.changelog, parsed.version) };
}

function main(argv: readonly string[]): void {
  const [tag, notesFile] = argv;
  if (tag === undefined || notesFile === undefined) throw new Error('usage: release.ts <tag vX.Y.Z> <notes file>');
  const files = { packageJson: readFileSync('package.json', 'utf8'), changelog: readFileSync('CHANGELOG.md', 'utf8') };
  const { tag: parsed, notes } = prepareRelease(tag, files, process.env['GITHUB_REPOSITORY'] || undefined);
  const { newestOfMajor, newest } = standing(parsed, execFileSync('git', ['tag', '--list'], { encoding: 'utf8' }).split('\n'));
  writeFileSync(notesFile, notes);
  const outputs = {
    version: parsed.version,
    major: parsed.major,
    'move-major': String(newestOfMajor),
    newest: String(newest),
    'npm-tag': newest ? 'latest' : `latest-${parsed.major}`,
  };
  process.stdout.write(
    Object.entries(outputs)
      .map(([name, value]) => `${name}=${value}\n`)
      .join(''),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`release: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
