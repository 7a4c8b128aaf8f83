// The README's test command: checks dist/ is the bundle of the current
// sources, then runs every test with Node's test runner on this Node (24 when
// run through npm, which puts the node devDependency first on PATH).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
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

const only = process.argv.slice(2);
const selected = only.length > 0 ? only : [...files('test/unit'), ...files('test/e2e')];
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
