// The README's test command: checks dist/ is the bundle of the current
// sources, lints (npm run lint), installs real Workerman (4.x and 5.x) for the rig, then runs every
// test with Node's test runner on this Node (24 when run through npm, which
// puts the node devDependency first on PATH).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`tests need Node 24 (the action's runtime); this is ${process.version}. Run them with npm test.`);
  process.exit(1);
}

function files(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) =>
      a.name < b.name ? -1
      : a.name > b.name ? 1
      : 0,
    )
    .flatMap((entry) =>
      entry.isDirectory() ? files(join(dir, entry.name))
      : entry.name.endsWith('.test.ts') ? [join(dir, entry.name)]
      : [],
    );
}

// `npm run test:unit`: the pure unit tests alone (test/unit/: no process
// started, no root, no bundle, no rig), a loop fast enough to run at every
// save. The process-spawning ones (real php, rsync, a local sh) are in
// test/local/, and run with the rest below.
if (process.argv[2] === '--unit') {
  const unit = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', './scripts/php-text-hooks.mjs', '--test', '--test-reporter=spec', ...files('test/unit')],
    { stdio: 'inherit' },
  );
  process.exit(unit.status ?? 1);
}

// Runs after every other test file: fails when the suite left processes or temp dirs behind.
const LEAK_CHECK = join('test', 'e2e', 'zz-nothing-left.test.ts');

// The action runs dist/index.cjs, and the end-to-end tests run it too: a stale
// bundle would test (and ship) old code.
const freshDir = mkdtempSync(join(tmpdir(), 'gr-bundle-'));
const fresh = join(freshDir, 'index.cjs');
const bundled = spawnSync(process.execPath, ['scripts/bundle.mjs', fresh], { stdio: 'inherit' });
const same = bundled.status === 0 && existsSync('dist/index.cjs') && readFileSync(fresh, 'utf8') === readFileSync('dist/index.cjs', 'utf8');
rmSync(freshDir, { recursive: true, force: true });
if (bundled.status !== 0) process.exit(1);
if (!same) {
  console.error('dist/index.cjs does not match a fresh build of src/: run npm run build and commit dist/');
  process.exit(1);
}

// The linter and the formatter's check (npm run lint): one line each and a stop if not.
const lint = spawnSync('npm', ['run', '--silent', 'lint'], { stdio: 'inherit' });
if (lint.status !== 0) {
  console.error('npm run lint failed: fix what it says (npm run format rewrites the formatting)');
  process.exit(1);
}

// The rig runs real Workerman: both versions installed (offline from
// ../shared/workerman/packages when there), or one clear line and a stop.
const vendor = spawnSync(process.execPath, ['--import', 'tsx', 'test/rig/workerman-vendor.ts'], { stdio: 'inherit' });
if (vendor.status !== 0) process.exit(vendor.status ?? 1);

// The programs sent to hosts (src/remote/) must at least parse: PHP with php -l,
// shell with a POSIX sh (dash on Debian, as on most hosts), and the shell must
// pass shellcheck as POSIX sh (no bashisms: a host's login shell may be dash).
// One line and a stop if not.
const linters = {
  '.php': [['php', '-d', 'display_errors=stdout', '-d', 'log_errors=0', '-l']],
  '.sh': [
    ['sh', '-n'],
    ['shellcheck', '--shell=sh', '--format=gcc'],
  ],
};
for (const file of readdirSync('src/remote').sort()) {
  for (const linter of Object.entries(linters).find(([ending]) => file.endsWith(ending))?.[1] ?? []) {
    const lint = spawnSync(linter[0], [...linter.slice(1), join('src/remote', file)], { encoding: 'utf8' });
    if (lint.status !== 0) {
      const why =
        lint.error?.message ??
        `${lint.stdout}${lint.stderr}`
          .split('\n')
          .find((line) => line.trim() !== '')
          ?.trim();
      console.error(`${linter.join(' ')} src/remote/${file} failed: ${why ?? `exit ${lint.status}`}`);
      process.exit(1);
    }
  }
}

const only = process.argv.slice(2);
const all = [...files('test/unit'), ...files('test/local'), ...files('test/e2e')];
const selected = only.length > 0 ? only : [...all.filter((file) => file !== LEAK_CHECK), ...all.filter((file) => file === LEAK_CHECK)];

// What the leak check (zz-nothing-left.test.ts) compares against: a mark in
// the environment of every process the suite starts, the suite id in the
// names of its temp dirs, a record of every rig host's mount namespace and
// when it was ended (Workerman overwrites its processes' environment with
// their titles), and the rig-like temp entries that were there before.
const suiteId = randomBytes(6).toString('hex');
const tempBefore = readdirSync(tmpdir()).filter((name) => /^(gr-rig-|gr-runner-|graceful-reload-)/.test(name));
const hostsRecord = join(tmpdir(), `gr-suite-${suiteId}.hosts`);
writeFileSync(hostsRecord, '');
let result;
try {
  result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', './scripts/php-text-hooks.mjs', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected],
    { stdio: 'inherit', env: { ...process.env, GR_SUITE_ID: suiteId, GR_SUITE_TMP_BEFORE: JSON.stringify(tempBefore), GR_SUITE_HOSTS: hostsRecord } },
  );
} finally {
  rmSync(hostsRecord, { force: true });
}
process.exit(result.status ?? 1);
