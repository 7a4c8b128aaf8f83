import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_SHOWN_CHARS, HOST_TEXT_SHOWN_CHARS, shownCommand, shownHostText } from '../../src/engine/shown-text.js';

test('a command is shown on one line, its start, at most COMMAND_SHOWN_CHARS with the mark', () => {
  assert.equal(shownCommand('php a.php\n  php b.php'), 'php a.php; php b.php');
  const cut = shownCommand(`echo ${'x'.repeat(300)}`);
  assert.equal(cut.length, COMMAND_SHOWN_CHARS);
  assert.ok(cut.startsWith('echo xx') && cut.endsWith('…'));
});

test("a host's text is shown on one line, its end, at most HOST_TEXT_SHOWN_CHARS with the mark", () => {
  assert.equal(shownHostText(' garbage\n::error::injected\n'), 'garbage ::error::injected');
  const cut = shownHostText(`${'x'.repeat(400)} Permission denied`);
  assert.equal(cut.length, HOST_TEXT_SHOWN_CHARS);
  assert.ok(cut.startsWith('…') && cut.endsWith('Permission denied'));
});
