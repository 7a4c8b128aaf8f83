import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceStartFileError } from '../../src/engine/inputs/source-check.js';

test('a source holding every start file passes; one without says which, where it looked and where a symlink led', () => {
  const plain = { given: 'app', looked: '/work/app', real: '/work/app' };
  assert.equal(sourceStartFileError(plain, ['start.php', 'start.php'], new Set(['start.php'])), undefined);

  const docs = sourceStartFileError(plain, ['start.php', 'bin/server.php'], new Set(['start.php']));
  assert.equal(docs?.input, 'source');
  assert.equal(
    docs?.message,
    'input source: "app" holds no start file "bin/server.php" (looked in /work/app); expected the app\'s tree, with the start file at the same path as in the target. Nothing was sent to any host',
  );

  const linked = sourceStartFileError({ given: 'deploy', looked: '/work/deploy', real: '/etc' }, ['start.php'], new Set());
  assert.match(linked!.message, /"deploy" holds no start file "start\.php" \(looked in \/work\/deploy, a symbolic link to \/etc\)/);
});
