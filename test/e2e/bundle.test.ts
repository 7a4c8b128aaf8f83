import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from '../rig/process.js';
import { REPO } from '../rig/rig.js';

test('dist/index.js runs on its own, with no node_modules beside it, and refuses bad input by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gr-bundle-alone-'));
  try {
    await copyFile(join(REPO, 'dist/index.js'), join(dir, 'index.js'));
    await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
    const result = await execFile(process.execPath, [join(dir, 'index.js')], {
      cwd: dir,
      env: { PATH: process.env['PATH'], 'INPUT_TARGET': '/', INPUT_HOSTS: 'web1' },
    });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /::error::input target: "\/" would let the sync delete the whole file system/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
