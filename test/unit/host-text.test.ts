import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actionLog, debugLines, fail, reportJson } from '../../src/action/action-log.js';
import { COMMAND_MARKER, runnerCommandLines, sealEachLine, sealHostText, SHOWN_LINE_BREAK } from '../../src/engine/report/host-text.js';
import { markdownCell } from '../../src/action/job-summary.js';

/** Text a host can put in a process title, a status table, a log line, an error or a file name. */
const CORPUS: readonly string[] = [
  '\u0085::set-output name=report::x',
  'web\u0085::set-output name=report::x',
  '\u2028::error::x',
  'title\u2029::error::x',
  '\r::warning::x',
  'worker\r::warning::x',
  '\n::add-mask::x',
  '\r\n::debug::x',
  '\u000b::error::vertical tab',
  '\u000c::error::form feed',
  '\u001c::error::file separator',
  '\u00a0::add-mask::x',
  '\u3000::debug::x',
  '\u2003\u200a\u1680\u202f\u205f::error::every space',
  '\ufeff::error::byte order mark',
  '\t \u00a0::notice::x',
  '\u200b::error::zero width space',
  '::stop-commands::tok',
  '::tok::',
  'a ##[error]x in mid-line',
  '##[set-output name=report;]x',
  '###[error]x',
  '#\u0085#[error]x',
  ':\u0085:error::split colons',
  'WorkerMan: worker process  web ' + 'x'.repeat(20_000) + '\u0085::set-output name=report::x' + '##[warning]y'.repeat(100),
  '%0A::error::encoded newline',
  '',
];

/** Ordinary host text: unchanged by sealing. */
const ORDINARY: readonly string[] = [
  'WorkerMan: worker process  web 127.0.0.1:8080',
  'PHP Fatal error:  Uncaught Error: boom in /srv/app/src/handler.php:2',
  'Workerman[start.php] reload',
  'a :: in the middle, and a # and a #[ and ## alone',
  'ünïcödé – tabs\tkept',
  'http://127.0.0.1:8080/status',
];

test('sealed host text never gives the runner a command line, alone or inside a message', () => {
  for (const text of CORPUS) {
    for (const message of [text, `web1: stands still, held by ${text}`, `${text} (pid 42)`]) {
      const sealed = sealHostText(message);
      assert.deepEqual(runnerCommandLines(sealed), [], `sealed ${JSON.stringify(message.slice(0, 80))} -> ${JSON.stringify(sealed.slice(0, 80))}`);
      assert.equal(sealed.split(/\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029]/).length, 1, 'one line');
    }
  }
});

test('the corpus does hold commands before sealing (the check is not vacuous)', () => {
  // Not commands to the runner as they are, sealed all the same.
  const inert = new Set([
    '',
    '%0A::error::encoded newline',
    '\u200b::error::zero width space',
    '\ufeff::error::byte order mark',
    ':\u0085:error::split colons',
    '#\u0085#[error]x',
  ]);
  for (const text of CORPUS.filter((t) => !inert.has(t))) {
    assert.notDeepEqual(runnerCommandLines(text), [], JSON.stringify(text.slice(0, 60)));
  }
});

test('how sealing shows what it neutralised', () => {
  // The visible ⏎ is not white space: nothing to strip before the colons any more.
  assert.equal(sealHostText('\u0085::set-output name=report::x'), `${SHOWN_LINE_BREAK}::set-output name=report::x`);
  assert.equal(sealHostText('a\r\nb\nc\rd\u2028e'), `a${SHOWN_LINE_BREAK}b${SHOWN_LINE_BREAK}c${SHOWN_LINE_BREAK}d${SHOWN_LINE_BREAK}e`);
  assert.equal(sealHostText('\u00a0::add-mask::x'), `${COMMAND_MARKER}\u00a0::add-mask::x`);
  assert.equal(sealHostText('::stop-commands::tok'), `${COMMAND_MARKER}::stop-commands::tok`);
  assert.equal(sealHostText('x ##[error]y'), 'x # #[error]y');
  assert.equal(sealHostText('###[x'), '## #[x');
});

test('ordinary text passes unchanged, and sealing is idempotent', () => {
  for (const text of ORDINARY) assert.equal(sealHostText(text), text);
  for (const text of [...CORPUS, ...ORDINARY]) assert.equal(sealHostText(sealHostText(text)), sealHostText(text));
});

test('a long title stays whole, on one line', () => {
  const title = 'WorkerMan: worker process  ' + 'web'.repeat(10_000);
  assert.equal(sealHostText(title), title);
});

test("sealEachLine keeps the action's own line breaks and seals each line", () => {
  const text = 'Host x\n  Port 22\n\u00a0::add-mask::x\nend\u0085::error::y';
  const sealed = sealEachLine(text);
  assert.equal(sealed.split('\n').length, 4);
  assert.deepEqual(runnerCommandLines(sealed), []);
});

test('runnerCommandLines splits the way the runner does and strips every kind of leading white space', () => {
  assert.deepEqual(runnerCommandLines('ok\n\u0085::x::y'), ['::x::y']);
  assert.deepEqual(runnerCommandLines('ok\u2028\u3000::x::y'), ['\u3000::x::y']);
  assert.deepEqual(runnerCommandLines('a ##[b]c'), ['a ##[b]c']);
  assert.deepEqual(runnerCommandLines('a : : b'), []);
});

/** Everything the adapter prints, as the runner would read it. */
function capture(action: () => void): string {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    action();
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test('the action log adapter: every level prints exactly the command it means, and nothing a host wrote acts', () => {
  const exitCode = process.exitCode;
  try {
    for (const text of CORPUS) {
      const message = `web1: stands still, held by ${text}`;
      const out = capture(() => {
        actionLog.info(text);
        actionLog.info(message);
        actionLog.warning(message);
        actionLog.error(text);
        actionLog.debug(message);
        debugLines(`config\n${text}`);
        fail(text);
      });
      const commands = runnerCommandLines(out).map((line) => /^::(\w+)::/.exec(line)?.[1] ?? line);
      // debugLines keeps the \n lines of its text: one debug command each.
      const debugLineCount = `config\n${text}`.split('\n').length;
      assert.deepEqual(
        commands,
        ['warning', 'error', 'debug', ...Array(debugLineCount).fill('debug'), 'error'],
        `${JSON.stringify(text.slice(0, 60))}:\n${out.slice(0, 400)}`,
      );
      for (const line of runnerCommandLines(out)) assert.ok(!line.includes('##['), line.slice(0, 120));
    }
  } finally {
    process.exitCode = exitCode;
  }
});

test('the report JSON escapes the line breaks JSON.stringify leaves raw', () => {
  const json = reportJson([{ host: 'h', ok: false, step: 'verify', error: 'a\u0085b\u2028c\u2029d\ne', filesChanged: false, signalled: false, durationMs: 1 }]);
  assert.doesNotMatch(json, /[\n\r\u0085\u2028\u2029]/);
  assert.equal((JSON.parse(json) as { error: string }[])[0]!.error, 'a\u0085b\u2028c\u2029d\ne');
});

test('terminal controls from a host (ESC sequences, BEL, DEL, C1 and its one-character CSI U+009B) are shown as �, a tab stays', () => {
  const hostile = 'web\u001b[2J\u001b]0;owned\u0007\u009b31m red\u007f\u0000\tend';
  const sealed = sealHostText(hostile);
  assert.equal(sealed, 'web\uFFFD[2J\uFFFD]0;owned\uFFFD\uFFFD31m red\uFFFD\uFFFD\tend');
  assert.doesNotMatch(sealed, /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/);
  assert.equal(sealHostText(sealed), sealed, 'idempotent');
  assert.doesNotMatch(markdownCell(hostile), /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/, 'a summary cell carries none either');
  const lines: string[] = [];
  const original = process.stdout.write;
  process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    actionLog.info(`host says: ${hostile}`);
  } finally {
    process.stdout.write = original;
  }
  assert.doesNotMatch(lines.join(''), /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/, 'nor the action log');
});
