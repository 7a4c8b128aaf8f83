import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { changelogSection, checkRepository, checkVersion, parseTag, prepareRelease, standing } from '../../scripts/release/release.js';
import { lint } from './actionlint.js';
import { REPO, repoFile } from './readme.js';

const CHANGELOG = [
  '# Changelog',
  '',
  '## [1.1.0] - 2027-01-10',
  '',
  '### Added',
  '',
  '- shards by label',
  '',
  '## [1.0.0] - 2026-12-07',
  '',
  'The first release.',
  '',
  '[1.1.0]: https://github.com/acme/graceful-reload/compare/v1.0.0...v1.1.0',
  '[1.0.0]: https://github.com/acme/graceful-reload/releases/tag/v1.0.0',
  '',
].join('\n');

test('a release tag is vX.Y.Z; its major tag is vX; anything else is refused with the form expected', () => {
  assert.deepEqual(parseTag('v1.0.0'), { version: '1.0.0', major: 'v1' });
  assert.deepEqual(parseTag('v12.30.4'), { version: '12.30.4', major: 'v12' });
  for (const tag of ['1.0.0', 'v1', 'v1.0', 'v1.0.0-rc.1', 'v01.0.0', 'v1.0.0 ', 'refs/tags/v1.0.0']) {
    assert.throws(
      () => parseTag(tag),
      new RegExp(`the tag ${JSON.stringify(tag).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a release tag: expected vX\\.Y\\.Z`),
      tag,
    );
  }
});

test("package.json's version must be the tag's", () => {
  assert.doesNotThrow(() => checkVersion(parseTag('v1.2.3'), '1.2.3'));
  assert.throws(() => checkVersion(parseTag('v1.2.4'), '1.2.3'), /package\.json has version "1\.2\.3", but the tag is v1\.2\.4: set "version": "1\.2\.4"/);
  assert.throws(() => checkVersion(parseTag('v1.0.0'), undefined), /package\.json has version undefined/);
});

test("package.json's repository must name the repository being released, in any form npm accepts", () => {
  for (const url of [
    'git+https://github.com/acme/graceful-reload.git',
    'https://github.com/Acme/graceful-reload',
    'github:acme/graceful-reload',
    'ssh://git@github.com/acme/graceful-reload.git',
  ]) {
    assert.doesNotThrow(() => checkRepository({ type: 'git', url }, 'acme/graceful-reload'), url);
  }
  assert.doesNotThrow(() => checkRepository('github:acme/graceful-reload', 'acme/graceful-reload'), 'the short string form');
  assert.throws(
    () => checkRepository({ url: 'git+https://github.com/OWNER/graceful-reload.git' }, 'acme/graceful-reload'),
    /repository is "git\+https:\/\/github\.com\/OWNER\/graceful-reload\.git", but this is acme\/graceful-reload: set "repository"/,
  );
  assert.throws(() => checkRepository({ url: 'https://github.com/acme/graceful-reload-fork' }, 'acme/graceful-reload'), /but this is acme\/graceful-reload/);
  assert.throws(() => checkRepository(undefined, 'acme/graceful-reload'), /repository is undefined/);
});

test("the release notes are the version's CHANGELOG section: up to the next section, without the link definitions", () => {
  assert.equal(changelogSection(CHANGELOG, '1.1.0'), '### Added\n\n- shards by label\n');
  assert.equal(changelogSection(CHANGELOG, '1.0.0'), 'The first release.\n');
  assert.throws(() => changelogSection(CHANGELOG, '1.0.1'), /CHANGELOG\.md has no section for 1\.0\.1: expected a heading "## \[1\.0\.1\] - YYYY-MM-DD"/);
  assert.throws(() => changelogSection('## [2.0.0]\n\nbig\n', '2.0.0'), /heading "## \[2\.0\.0\]" has no date/);
  assert.throws(() => changelogSection('## [2.0.0] - 2027-02-01\n\n## [1.0.0] - 2026-12-07\n\nfirst\n', '2.0.0'), /section for 2\.0\.0 is empty/);
  // 1.0.0 is not 1.0.0-rc or 11.0.0.
  assert.throws(() => changelogSection('## [11.0.0] - 2027-02-01\n\nx\n', '1.0.0'), /no section for 1\.0\.0/);
});

test('the major tag moves only for the newest release of its major version; npm and GitHub call only the newest of all latest', () => {
  const tags = ['v1', 'v1.0.0', 'v1.2.0', 'v2', 'v2.0.0', 'not-a-release', ''];
  assert.deepEqual(standing(parseTag('v2.1.0'), tags), { newestOfMajor: true, newest: true });
  assert.deepEqual(standing(parseTag('v1.2.1'), tags), { newestOfMajor: true, newest: false }, 'a fix to the 1.x line moves v1, not latest');
  assert.deepEqual(standing(parseTag('v1.1.1'), tags), { newestOfMajor: false, newest: false }, 'a fix to 1.1 while 1.2 exists leaves v1 where it is');
  assert.deepEqual(standing(parseTag('v1.10.0'), ['v1.9.0']), { newestOfMajor: true, newest: true }, 'numbers are compared as numbers');
  assert.deepEqual(standing(parseTag('v1.0.0'), ['v1.0.0']), { newestOfMajor: true, newest: true }, 'the tag itself is listed');
});

test("this repository is ready to release its package.json version: the tag, the version and CHANGELOG.md's section agree", () => {
  const packageJson = repoFile('package.json');
  const { version } = JSON.parse(packageJson) as { version: string };
  const { tag, notes } = prepareRelease(`v${version}`, { packageJson, changelog: repoFile('CHANGELOG.md') }, undefined);
  assert.equal(tag.version, version);
  assert.ok(notes.length > 200, `the ${version} section says what the release holds`);
  assert.throws(
    () => prepareRelease(`v${version}`, { packageJson, changelog: repoFile('CHANGELOG.md') }, 'someone/else'),
    /but this is someone\/else/,
    'the repository is checked when the workflow names it',
  );
});

test('every workflow of .github/workflows passes actionlint', async () => {
  const files = readdirSync(join(REPO, '.github/workflows'))
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();
  assert.ok(files.includes('release.yml') && files.includes('ci.yml'), files.join(', '));
  const problems = (
    await Promise.all(files.map((name) => lint({ where: `.github/workflows/${name}`, text: repoFile(`.github/workflows/${name}`), lineOffset: 0 })))
  ).flat();
  assert.deepEqual(problems, [], 'actionlint found problems');
});

interface ReleaseWorkflow {
  readonly on: { readonly push: { readonly tags: readonly string[] } };
  readonly jobs: Record<
    string,
    {
      readonly uses?: string;
      readonly needs?: string;
      readonly env?: Record<string, string>;
      readonly steps?: readonly { readonly if?: string; readonly run?: string }[];
    }
  >;
}

test('release.yml: runs on vX.Y.Z tags, tests first with ci.yml, checks the versions before anything is published, publishes only with NPM_TOKEN', () => {
  const workflow = parse(repoFile('.github/workflows/release.yml')) as ReleaseWorkflow;
  const pattern = workflow.on.push.tags;
  assert.deepEqual(pattern, ['v[0-9]+.[0-9]+.[0-9]+']);
  assert.equal(workflow.jobs['test']?.uses, './.github/workflows/ci.yml');
  assert.ok('workflow_call' in (parse(repoFile('.github/workflows/ci.yml')) as { on: object }).on, 'ci.yml can be called');
  const release = workflow.jobs['release']!;
  assert.equal(release.needs, 'test');
  const runs = (release.steps ?? []).map((step) => step.run ?? '');
  const at = (text: string) => runs.findIndex((run) => run.includes(text));
  assert.ok(at('scripts/release/release.ts') >= 0, 'the version check runs');
  for (const later of ['gh release create', 'git push --force origin', 'npm publish'])
    assert.ok(at(later) > at('scripts/release/release.ts'), `${later} comes after the check`);
  const publish = release.steps![at('npm publish')]!;
  assert.match(publish.run!, /--provenance/);
  assert.equal(publish.if, "env.NPM_TOKEN != ''");
  assert.equal(release.env?.['NPM_TOKEN'], '${{ secrets.NPM_TOKEN }}');
});
