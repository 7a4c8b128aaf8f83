import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, mustExec } from '../rig/process.js';
import { REPO } from '../rig/rig.js';

/** What `npm pack --json` says about one tarball (the fields read here). */
interface Packed {
  readonly filename: string;
  readonly size: number;
  readonly files: readonly { readonly path: string }[];
}

/** The paths the published package may hold: the bundle, the command, the action's metadata and the front matter. */
const SHIPPED = /^(dist\/index\.cjs|bin\/graceful-reload\.js|action\.yml|README\.md|LICENSE|package\.json)$/;

const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/** Every packed size the docs state (`about N KiB packed`), in bytes, and where. */
async function documentedSizes(): Promise<{ where: string; bytes: number }[]> {
  const pages = ['README.md', ...(await readdir(join(REPO, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  const sizes = [];
  for (const where of pages) {
    const text = await readFile(join(REPO, where), 'utf8');
    for (const figure of text.matchAll(/about\s+(\d+)\s+KiB\s+packed/g)) sizes.push({ where, bytes: Number(figure[1]) * 1024 });
  }
  return sizes;
}

/**
 * npm with a cache of its own in `dir` (nothing of the user's cache is read or
 * written) and no network: installing the tarball must not need the registry.
 */
function npm(args: readonly string[], cwd: string, dir: string): Promise<string> {
  const env = {
    PATH: process.env['PATH'],
    HOME: dir,
    npm_config_cache: join(dir, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  return mustExec('npm', args, { cwd, env, timeoutMs: 120_000 });
}

test('npm pack: the tarball, installed offline into an empty project, gives a working graceful-reload, and holds no tests or sources', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gr-pack-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const [packed] = JSON.parse(await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], REPO, dir)) as Packed[];
  assert.ok(packed, 'npm pack describes one tarball');
  const paths = packed.files.map((file) => file.path).sort();
  assert.deepEqual(
    paths.filter((path) => !SHIPPED.test(path)),
    [],
    'files the package must not ship',
  );
  assert.ok(paths.includes('dist/index.cjs') && paths.includes('bin/graceful-reload.js'), `the bundle and the command are in: ${paths.join(', ')}`);
  t.diagnostic(`${packed.filename}: ${packed.size} bytes packed`);
  // The sizes the docs give stay true within a tenth.
  const documented = await documentedSizes();
  assert.ok(
    documented.some(({ where }) => where === 'README.md'),
    'the README gives the packed size',
  );
  for (const { where, bytes } of documented) {
    assert.ok(
      Math.abs(packed.size - bytes) <= bytes / 10,
      `${where} says about ${bytes / 1024} KiB packed; npm pack made ${(packed.size / 1024).toFixed(0)} KiB`,
    );
  }

  // An empty project installs the tarball alone: the bundle needs no dependency.
  const project = join(dir, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), '{ "name": "empty-project", "private": true }\n');
  await npm(['install', join(dir, packed.filename)], project, dir);
  const installed = JSON.parse(await readFile(join(project, 'node_modules/graceful-reload/package.json'), 'utf8')) as { dependencies?: object };
  assert.deepEqual(Object.keys(installed.dependencies ?? {}), [], 'the published package has no dependencies to fetch');

  assert.equal((await npm(['exec', '--', 'graceful-reload', '--version'], project, dir)).trim(), version);
  const help = await npm(['exec', '--', 'graceful-reload', '--help'], project, dir);
  assert.match(help, /^Usage: graceful-reload /);
  assert.match(help, /^ {2}--version/m);

  // The command refuses bad options as the clone's does: the bundle runs, not just prints.
  const refused = await execFile(join(project, 'node_modules/.bin/graceful-reload'), ['--target', '/'], {
    cwd: project,
    env: { PATH: process.env['PATH'] },
    timeoutMs: 60_000,
  });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--target: "\/" would let the sync delete the whole file system/);
});
