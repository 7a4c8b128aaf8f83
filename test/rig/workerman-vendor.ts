import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Real Workerman for the tests, installed with Composer once per version into
 * .cache/workerman/<version>/vendor: from the release trees in
 * ../shared/workerman/packages when they are there (offline, as path
 * repositories), from Composer's public registry otherwise. GatewayWorker
 * comes with both versions.
 */

export type WorkermanMajor = 4 | 5;

export const WORKERMAN_RELEASES: Record<WorkermanMajor, string> = { 4: '4.2.1', 5: '5.2.2' };
const GATEWAY_WORKER = '4.0.0';
const COROUTINE = '1.1.4';

const REPO = resolve(import.meta.dirname, '../..');
const CACHE = join(REPO, '.cache', 'workerman');

function packagesDir(): string | undefined {
  const dir = process.env['WORKERMAN_PACKAGES'] ?? resolve(REPO, '../shared/workerman/packages');
  return existsSync(join(dir, `workerman-${WORKERMAN_RELEASES[5]}`)) ? dir : undefined;
}

function composerJson(major: WorkermanMajor, packages: string | undefined): string {
  const release = WORKERMAN_RELEASES[major];
  const require = { 'workerman/workerman': release, 'workerman/gateway-worker': GATEWAY_WORKER };
  if (packages === undefined) return JSON.stringify({ require }, null, 2);
  const path = (dir: string, name: string, version: string) => ({
    type: 'path',
    url: join(packages, dir),
    options: { symlink: false, versions: { [name]: version } },
  });
  const repositories: object[] = [
    { 'packagist.org': false },
    path(`workerman-${release}`, 'workerman/workerman', release),
    path(`gateway-worker-${GATEWAY_WORKER}`, 'workerman/gateway-worker', GATEWAY_WORKER),
  ];
  if (major === 5) repositories.push(path(`coroutine-${COROUTINE}`, 'workerman/coroutine', COROUTINE));
  return JSON.stringify({ require, repositories }, null, 2);
}

/** The directory whose vendor/ holds Workerman `major` and GatewayWorker; installs it on first use. */
export function workermanVendor(major: WorkermanMajor): string {
  const dir = join(CACHE, WORKERMAN_RELEASES[major]);
  const packages = packagesDir();
  const wanted = composerJson(major, packages);
  if (existsSync(join(dir, 'vendor', 'autoload.php')) && readFileSync(join(dir, 'composer.json'), 'utf8') === wanted) return dir;

  mkdirSync(CACHE, { recursive: true });
  // Built aside and renamed into place, so a half-done install is never used.
  const work = mkdtempSync(join(CACHE, `.install-${major}-`));
  try {
    writeFileSync(join(work, 'composer.json'), wanted);
    const result = spawnSync('composer', ['install', '--no-interaction', '--no-progress', '--no-dev', '--quiet'], {
      cwd: work,
      env: { ...process.env, COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_CACHE_DIR: join(CACHE, '.composer-cache') },
      encoding: 'utf8',
    });
    if (result.error || result.status !== 0) {
      const why = result.error?.message ?? (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ');
      const from = packages ? `from ${packages}` : "from Composer's public registry (no ../shared/workerman/packages here)";
      throw new Error(`cannot install Workerman ${WORKERMAN_RELEASES[major]} ${from}: ${why}`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

// `node --import tsx test/rig/workerman-vendor.ts`: install both before the suite, or stop with one line.
if (import.meta.main) {
  try {
    for (const major of [5, 4] as const) workermanVendor(major);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
