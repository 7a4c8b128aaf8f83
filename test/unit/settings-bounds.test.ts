import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBoundedText, SETTINGS_FILE_LIMIT_BYTES } from '../../src/adapters/bounded-file.js';
import { UsageError } from '../../src/cli/options.js';
import { parseConfig, readConfigFile, resolveInputs } from '../../src/cli/settings.js';
import { InputError, PROBLEM_TEXT_LIMIT } from '../../src/engine/inputs/input-error.js';

/** Issue #21, 6: hostile config files. What is read is bounded, a long list is taken whole, and no error message grows with the value it quotes. */

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gr-settings-bounds-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('an exclude list of 50,000 patterns in a config file reaches the inputs whole and in order', async () => {
  const patterns = Array.from({ length: 50_000 }, (_, i) => `cache/${i}/*.tmp`);
  const text = `hosts: web1.example.com\ntarget: /srv/app\nexclude:\n${patterns.map((pattern) => `  - "${pattern}"`).join('\n')}\n`;
  const given = parseConfig(text, 'deploy.yml');
  assert.equal(given.get('exclude')?.length, 50_000);
  const inputs = await resolveInputs(new Map(), { path: join(dir, 'deploy.yml'), directory: dir, given }, {});
  assert.deepEqual(inputs.get('exclude')!.split('\n'), patterns);
});

test('a settings file is read up to 4 MiB: one byte more is refused unparsed, in a short message', async () => {
  const exact = join(dir, 'exact.yml');
  await writeFile(exact, `hosts: web1\n#${'x'.repeat(SETTINGS_FILE_LIMIT_BYTES - 14)}\n`);
  assert.equal((await readBoundedText(exact)).length, SETTINGS_FILE_LIMIT_BYTES);
  const over = join(dir, 'over.yml');
  await writeFile(over, `hosts: web1\n#${'x'.repeat(SETTINGS_FILE_LIMIT_BYTES - 13)}\n`);
  const error = await readConfigFile(over).then(
    () => assert.fail('a file over the limit was read'),
    (caught: Error) => caught,
  );
  assert.ok(error instanceof UsageError);
  assert.equal(error.message, `--config: cannot read ${over} (it is over 4 MiB, the most a settings file may be)`);
});

test('an error quoting a huge value stays short, keeping its start and the rule at its end', () => {
  const value = 'q'.repeat(3 * 1024 * 1024);
  assert.throws(
    () => parseConfig(`reload-mode: ${value}\nforce-unlock: ${value}\n`, 'deploy.yml'),
    (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.ok(error.message.length <= PROBLEM_TEXT_LIMIT + 60, `${error.message.length} characters`);
      assert.match(error.message, /^deploy\.yml: force-unlock: "q+\.\.\. \(\d+ characters left out\) \.\.\.q+" is not true or false$/);
      return true;
    },
  );
  const problem = new InputError('target', `"${value}" is not an absolute path`);
  assert.ok(problem.message.length <= PROBLEM_TEXT_LIMIT + 60, `${problem.message.length} characters`);
  assert.match(problem.message, /is not an absolute path$/);
});
