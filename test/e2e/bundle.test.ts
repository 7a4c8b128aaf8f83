import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from '../rig/process.js';
import { REPO } from '../rig/rig.js';

test('dist/index.cjs runs on its own, with no node_modules beside it, and refuses bad input by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gr-bundle-alone-'));
  try {
    await copyFile(join(REPO, 'dist/index.cjs'), join(dir, 'index.cjs'));
    const result = await execFile(process.execPath, [join(dir, 'index.cjs')], {
      cwd: dir,
      env: { PATH: process.env['PATH'], INPUT_TARGET: '/', INPUT_HOSTS: 'web1' },
    });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /::error::input target: "\/" would let the sync delete the whole file system/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('dist/index.cjs reads an inventory with the YAML parser it compiles on first use, and names the line of a mistake', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gr-bundle-yaml-'));
  try {
    await copyFile(join(REPO, 'dist/index.cjs'), join(dir, 'index.cjs'));
    await writeFile(join(dir, 'fleet.yml'), 'hosts:\n  - host: web1\n  - host: web2\n    taget: /srv/app\n');
    const result = await execFile(process.execPath, [join(dir, 'index.cjs')], {
      cwd: dir,
      env: {
        PATH: process.env['PATH'],
        GITHUB_WORKSPACE: dir,
        INPUT_INVENTORY: 'fleet.yml',
        INPUT_TARGET: '/srv/app',
        INPUT_PASSWORD: 'unused',
        'INPUT_INSECURE-IGNORE-HOST-KEY': 'true',
      },
    });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /::error::input inventory: hosts entry 2 \(web2, line 3\): unknown key "taget"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
