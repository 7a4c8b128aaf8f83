// The README's test command: checks dist/ is the bundle of the current
// sources, then runs every test with Node's test runner on this Node (24 when
// run through npm, which puts the node devDependency first on PATH).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`tests need Node 24 (the action's runtime); this is ${process.version}. Run them with npm test.`);
  process.exit(1);
}

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.test.ts') ? [join(dir, entry.name)] : [],
  );
}

// The action runs dist/index.js, and the end-to-end tests run it too: a stale
// bundle would test (and ship) old code.
const freshDir = mkdtempSync(join(tmpdir(), 'gr-bundle-'));
const fresh = join(freshDir, 'index.js');
const bundled = spawnSync(process.execPath, ['scripts/bundle.mjs', fresh], { stdio: 'inherit' });
const same = bundled.status === 0 && existsSync('dist/index.js') && readFileSync(fresh, 'utf8') === readFileSync('dist/index.js', 'utf8');
rmSync(freshDir, { recursive: true, force: true });
if (bundled.status !== 0) process.exit(1);
if (!same) {
  console.error('dist/index.js does not match a fresh build of src/: run npm run build and commit dist/');
  process.exit(1);
}

const only = process.argv.slice(2);
const selected = only.length > 0 ? only : [...files('test/unit'), ...files('test/e2e')];
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--import', './scripts/php-text-hooks.mjs', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
